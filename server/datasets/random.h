// A small seeded pseudo-random generator whose output is the same on every
// platform and standard library (unlike std::shuffle or the std::
// distributions): xoshiro256** (Blackman & Vigna) seeded through splitmix64.
// Used for reproducible dataset splits and shuffles. Not thread-safe; use one
// instance per thread.
#ifndef PTUNE_SERVER_DATASETS_RANDOM_H_
#define PTUNE_SERVER_DATASETS_RANDOM_H_

#include <cstdint>
#include <utility>
#include <vector>

namespace ptune::datasets {

// splitmix64: advances `state` and returns the next output.
inline uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// xoshiro256** 1.0.
class Random {
 public:
  explicit Random(uint64_t seed) {
    uint64_t sm = seed;
    for (uint64_t& word : s_) word = SplitMix64(&sm);
  }

  // The next 64 random bits.
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, bound) without modulo bias; bound > 0.
  uint64_t Uniform(uint64_t bound) {
    const uint64_t threshold = (0 - bound) % bound;  // 2^64 mod bound.
    for (;;) {
      const uint64_t r = Next();
      if (r >= threshold) return r % bound;
    }
  }

  // Fisher-Yates shuffle (from the back, as in Knuth's Algorithm P).
  template <typename T>
  void Shuffle(std::vector<T>* items) {
    for (size_t i = items->size(); i > 1; --i) {
      const size_t j = static_cast<size_t>(Uniform(i));
      std::swap((*items)[i - 1], (*items)[j]);
    }
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  uint64_t s_[4];
};

}  // namespace ptune::datasets

#endif  // PTUNE_SERVER_DATASETS_RANDOM_H_
