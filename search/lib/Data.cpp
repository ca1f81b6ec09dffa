// act::search: Fashion-MNIST's IDX files (gzip) for the proxy task.
#include "act/search.h"

#include <zlib.h>

#include <cstdlib>
#include <sys/stat.h>

namespace act::search {

namespace {
const char *const kFiles[4] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};

std::vector<uint8_t> readGzip(const std::string &path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f)
    throw Error("cannot open '" + path + "' (install dataset-fashion-mnist, or set "
                "ACT_FASHION_MNIST to the folder holding the IDX .gz files)");
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0)
    out.insert(out.end(), buf, buf + n);
  bool failed = n < 0;
  gzclose(f);
  if (failed)
    throw Error("'" + path + "' is not a readable gzip file");
  return out;
}

uint32_t bigEndian(const std::vector<uint8_t> &b, size_t at) {
  return (uint32_t)b[at] << 24 | (uint32_t)b[at + 1] << 16 | (uint32_t)b[at + 2] << 8 | b[at + 3];
}

/// An IDX file's items: images (magic 2051, 28x28) or labels (2049).
std::vector<uint8_t> readIdx(const std::string &path, bool images, size_t &count) {
  std::vector<uint8_t> b = readGzip(path);
  size_t header = images ? 16 : 8;
  if (b.size() < header || bigEndian(b, 0) != (images ? 2051u : 2049u))
    throw Error("'" + path + "' is not an IDX " + (images ? "image" : "label") + " file");
  count = bigEndian(b, 4);
  size_t item = images ? 784 : 1;
  if (images && (bigEndian(b, 8) != 28 || bigEndian(b, 12) != 28))
    throw Error("'" + path + "': expected 28x28 images");
  if (b.size() < header + count * item)
    throw Error("'" + path + "' is truncated");
  return std::vector<uint8_t>(b.begin() + (ptrdiff_t)header,
                              b.begin() + (ptrdiff_t)(header + count * item));
}

/// Rows [begin, end) of images and labels, pixels standardised with Fashion-MNIST's
/// training mean and deviation.
Images slice(const std::vector<uint8_t> &pixels, const std::vector<uint8_t> &labels,
             size_t begin, size_t end) {
  const float mean = 0.2860f, stdev = 0.3530f;
  Images im;
  im.rows = end - begin;
  im.pixels.resize(im.rows * 784);
  for (size_t i = 0; i < im.rows * 784; ++i)
    im.pixels[i] = ((float)pixels[begin * 784 + i] / 255.0f - mean) / stdev;
  im.labels.assign(labels.begin() + (ptrdiff_t)begin, labels.begin() + (ptrdiff_t)end);
  return im;
}
} // namespace

std::string defaultDataDir() {
  const char *env = std::getenv("ACT_FASHION_MNIST");
  return env && *env ? env : "/usr/share/datasets/fashion-mnist";
}

bool haveData(const std::string &dir) {
  struct stat st;
  for (const char *f : kFiles)
    if (::stat((dir + "/" + f).c_str(), &st) != 0)
      return false;
  return true;
}

ProxyData ProxyData::load(const std::string &dir, size_t validation, size_t limit) {
  size_t nTrain = 0, nTrainLabels = 0, nTest = 0, nTestLabels = 0;
  std::vector<uint8_t> trainImages = readIdx(dir + "/" + kFiles[0], true, nTrain);
  std::vector<uint8_t> trainLabels = readIdx(dir + "/" + kFiles[1], false, nTrainLabels);
  std::vector<uint8_t> testImages = readIdx(dir + "/" + kFiles[2], true, nTest);
  std::vector<uint8_t> testLabels = readIdx(dir + "/" + kFiles[3], false, nTestLabels);
  if (nTrain != nTrainLabels || nTest != nTestLabels)
    throw Error("'" + dir + "': image and label counts differ");
  if (validation >= nTrain)
    throw Error("the validation split must be smaller than the training set");
  // The validation split is the end of the training file; `limit` shrinks both.
  size_t trainEnd = nTrain - validation, valBegin = trainEnd;
  if (limit) {
    size_t valCount = std::min(validation, std::max<size_t>(limit / 5, 1));
    trainEnd = std::min(trainEnd, limit);
    valBegin = nTrain - valCount;
    nTest = std::min(nTest, limit);
  }
  ProxyData d;
  d.train = slice(trainImages, trainLabels, 0, trainEnd);
  d.validation = slice(trainImages, trainLabels, valBegin, nTrain);
  d.test = slice(testImages, testLabels, 0, nTest);
  return d;
}

} // namespace act::search
