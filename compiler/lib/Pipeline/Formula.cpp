// act: derivative bodies printed back as formulas (`actc grad`).
//
// Each op becomes infix text with the language's precedences; a value used more than
// once (and not a name or number) is bound to t1, t2, ... on its own line first, so
// the shared subexpressions CSE found stay visible.
#include "act/Dialect/ActOps.h"
#include "act/Pipeline/Pipeline.h"

#include "mlir/IR/Matchers.h"

#include <map>
#include <sstream>

using namespace mlir;

namespace act {
namespace {

/// Text of an expression and how tightly it binds (higher binds tighter).
struct Text {
  std::string s;
  int prec; // 0 comparison/logic, 1 + -, 2 * /, 3 unary, 4 atom
};

std::string number(double v) {
  std::ostringstream os;
  os.precision(15);
  os << v;
  return os.str();
}

class FormulaPrinter {
public:
  explicit FormulaPrinter(ActivationOp act) : act(act) {}

  std::string print() {
    Block &body = act.getBodyBlock();
    for (unsigned i = 0; i < body.getNumArguments(); ++i)
      text[body.getArgument(i)] = {act.getArgumentName(i).str(), 4};
    std::string out;
    for (Operation &op : body.without_terminator()) {
      if (op.getNumResults() != 1)
        continue;
      Value v = op.getResult(0);
      Text t = render(op);
      // A guard shows its product, named already where the product has other uses.
      Value guarded = guardedProduct(op);
      // A compare used only by guards is never shown, so it needs no name.
      bool guardCompare = isa<arith::CmpFOp>(op) && llvm::all_of(v.getUsers(), [](Operation *u) {
                            return guardedProduct(*u) != nullptr;
                          });
      bool leaf = matchPattern(v, m_Constant()) || (guarded && !guarded.hasOneUse()) ||
                  guardCompare;
      if (!leaf && !v.hasOneUse() && !v.use_empty()) {
        std::string name = "t" + std::to_string(++temps);
        out += "  " + name + " = " + t.s + "\n";
        t = {name, 4};
      }
      text[v] = t;
    }
    auto yield = cast<YieldOp>(body.getTerminator());
    std::vector<std::string> labels = resultLabels(yield.getNumOperands());
    for (auto [label, v] : llvm::zip(labels, yield.getResults()))
      out += "  " + label + " = " + text[v].s + "\n";
    return out;
  }

private:
  ActivationOp act;
  DenseMap<Value, Text> text;
  unsigned temps = 0;

  std::vector<std::string> resultLabels(unsigned n) {
    std::vector<std::string> labels{"f"};
    auto order = act->getAttrOfType<IntegerAttr>("act.grad_order");
    std::string x = cast<StringAttr>(act.getInputNames()[0]).getValue().str();
    if (order && order.getInt() > 1) {
      for (int64_t k = 1; k < (int64_t)n; ++k)
        labels.push_back("d" + (k > 1 ? std::to_string(k) : "") + "f/d" + x +
                         (k > 1 ? "^" + std::to_string(k) : ""));
      return labels;
    }
    for (Attribute in : act.getInputNames())
      labels.push_back("df/d" + cast<StringAttr>(in).getValue().str());
    auto pairs = act->getAttrOfType<DenseI64ArrayAttr>("act.table_pairs");
    unsigned j = 0;
    for (unsigned p = 0; p < act.getNumParams(); ++p) {
      if (act.getParamConst()[p])
        continue;
      std::string name = cast<StringAttr>(act.getParamNames()[p]).getValue().str();
      int64_t count = pairs && j < pairs.size() ? pairs[j] : 0;
      ++j;
      if (count == 0) {
        labels.push_back("df/d" + name);
        continue;
      }
      for (int64_t q = 0; q < count; ++q) {
        labels.push_back("table index " + std::to_string(q + 1) + " of df/d" + name);
        labels.push_back("weight " + std::to_string(q + 1) + " of df/d" + name);
      }
    }
    labels.resize(n, "?");
    return labels;
  }

  /// ScalarBuilder::gateMul's select(isnan(r) and ordered(v, s), 0, r), or its
  /// one-compare form select(s != 0, r, 0) with r = v * s: shown as r.
  static Value guardedProduct(Operation &op) {
    auto sel = dyn_cast<arith::SelectOp>(op);
    if (!sel)
      return nullptr;
    if (auto nonzero = sel.getCondition().getDefiningOp<arith::CmpFOp>()) {
      return nonzero.getPredicate() == arith::CmpFPredicate::UNE &&
                     isProductBy(sel.getTrueValue(), nonzero.getLhs())
                 ? sel.getTrueValue()
                 : nullptr;
    }
    auto both = sel.getCondition().getDefiningOp<arith::AndIOp>();
    if (!both)
      return nullptr;
    auto isNan = both.getLhs().getDefiningOp<arith::CmpFOp>();
    return isNan && isNan.getPredicate() == arith::CmpFPredicate::UNO &&
                   isNan.getLhs() == sel.getFalseValue()
               ? sel.getFalseValue()
               : nullptr;
  }
  /// r = v * s, or gate(v, g) with s = sigmoid(g) (v * s canonicalised).
  static bool isProductBy(Value r, Value s) {
    if (auto mul = r.getDefiningOp<arith::MulFOp>())
      return mul.getRhs() == s;
    auto gate = r.getDefiningOp<GateOp>();
    auto sig = s.getDefiningOp<SigmoidOp>();
    return gate && sig && sig.getInput() == gate.getGate();
  }
  std::string operand(Value v, int minPrec) {
    const Text &t = text[v];
    return t.prec < minPrec ? "(" + t.s + ")" : t.s;
  }
  std::string call(StringRef name, ValueRange args, ValueRange trailing = {}) {
    std::string s = name.str() + "(";
    for (auto [i, a] : llvm::enumerate(args))
      s += (i ? ", " : "") + text[a].s;
    if (!trailing.empty()) {
      s += ";";
      for (Value a : trailing)
        s += " " + text[a].s + (a == trailing.back() ? "" : ",");
    }
    return s + ")";
  }
  Text binary(Operation &op, const char *sym, int prec) {
    // Left-associative: the right operand needs parentheses at equal precedence.
    return {operand(op.getOperand(0), prec) + " " + sym + " " +
                operand(op.getOperand(1), prec + 1),
            prec};
  }

  Text render(Operation &op) {
    FloatAttr f;
    if (matchPattern(op.getResult(0), m_Constant(&f)))
      return {number(f.getValueAsDouble()), f.getValueAsDouble() < 0 ? 3 : 4};
    IntegerAttr i;
    if (matchPattern(op.getResult(0), m_Constant(&i)))
      return {std::to_string(i.getInt()), 4};
    if (isa<arith::AddFOp, arith::AddIOp>(op))
      return binary(op, "+", 1);
    if (isa<arith::SubFOp>(op))
      return binary(op, "-", 1);
    if (isa<arith::MulFOp, arith::MulIOp, SafeMulOp>(op))
      return binary(op, "*", 2);
    if (isa<arith::DivFOp>(op))
      return binary(op, "/", 2);
    if (isa<arith::AndIOp>(op))
      return binary(op, "and", 0);
    if (isa<arith::OrIOp>(op))
      return binary(op, "or", 0);
    if (isa<arith::NegFOp>(op))
      return {"-" + operand(op.getOperand(0), 4), 3};
    if (auto cmp = dyn_cast<arith::CmpFOp>(op)) {
      using P = arith::CmpFPredicate;
      const char *sym = nullptr;
      switch (cmp.getPredicate()) {
      case P::OLT: sym = "<"; break;
      case P::OLE: sym = "<="; break;
      case P::OGT: sym = ">"; break;
      case P::OGE: sym = ">="; break;
      case P::OEQ: sym = "=="; break;
      case P::UNE: sym = "!="; break;
      default:
        return {call(("cmp_" + arith::stringifyCmpFPredicate(cmp.getPredicate())).str(),
                     op.getOperands()),
                4};
      }
      return {operand(op.getOperand(0), 1) + " " + sym + " " + operand(op.getOperand(1), 1),
              0};
    }
    if (Value guarded = guardedProduct(op))
      return text[guarded];
    if (isa<arith::SelectOp>(op))
      return {call("select", op.getOperands()), 4};
    if (isa<arith::MaximumFOp, arith::MaxNumFOp>(op))
      return {call("max", op.getOperands()), 4};
    if (isa<arith::MinimumFOp, arith::MinNumFOp>(op))
      return {call("min", op.getOperands()), 4};
    if (isa<arith::FPToSIOp, arith::IndexCastOp>(op))
      return {call("int", op.getOperands()), 4};
    if (auto load = dyn_cast<memref::LoadOp>(op))
      return {text[load.getMemRef()].s + "[" + text[load.getIndices()[0]].s + "]", 4};
    if (auto pwl = dyn_cast<PwlOp>(op))
      return {call("pwl", pwl.getInput(),
                   ValueRange{pwl.getTable(), pwl.getLeft(), pwl.getRight(),
                              pwl.getLeftSlope(), pwl.getRightSlope()}),
              4};
    if (auto sm = dyn_cast<SmoothMaxOp>(op))
      return {call("smooth_max", sm.getInputs(), sm.getBeta()), 4};
    if (auto sm = dyn_cast<SmoothMinOp>(op))
      return {call("smooth_min", sm.getInputs(), sm.getBeta()), 4};
    if (auto sm = dyn_cast<LogSumExpOp>(op))
      return {call("logsumexp", sm.getInputs(), sm.getBeta()), 4};
    // Everything else is a function call named like the language's builtin.
    StringRef name = op.getName().stripDialect();
    static const std::map<std::string, std::string> rename = {
        {"absf", "abs"}, {"powf", "pow"}, {"expm1", "expm1"}};
    auto it = rename.find(name.str());
    return {call(it == rename.end() ? name : StringRef(it->second), op.getOperands()), 4};
  }
};

} // namespace

std::string printFormulas(Operation *grad) {
  auto act = dyn_cast<ActivationOp>(grad);
  if (!act)
    return "";
  return FormulaPrinter(act).print();
}

} // namespace act
