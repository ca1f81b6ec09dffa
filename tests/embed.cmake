# Configure, build and run examples/embed as an outside project using find_package(act).
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SRC} -B ${BIN} -G Ninja -Dact_DIR=${ACT_DIR}
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "configuring the embed example failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BIN} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "building the embed example failed")
endif()
execute_process(COMMAND ${BIN}/embed RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "the embed example failed")
endif()
