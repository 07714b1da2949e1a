#include "server/text/unicode_props.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

namespace ptune::text {
namespace {

// Whether `c` was assigned in Unicode major.minor or earlier (unassigned
// code points have age 0.0 and count as "earlier": they have no properties
// in any version).
bool AssignedBy(char32_t c, int major, int minor) {
  UVersionInfo age;
  u_charAge(static_cast<UChar32>(c), age);
  return age[0] < major || (age[0] == major && age[1] <= minor);
}

// The Unicode 8.0 general category as `unicode_categories` has it: the
// current one for characters that existed then, Cn for later ones, with the
// few category changes since 8.0 undone.
int8_t Category8(char32_t c) {
  switch (c) {
    case 0x1734:  // HANUNOO SIGN PAMUDPOD: Mn in 8.0, Mc since 14.0.
      return U_NON_SPACING_MARK;
    case 0x1885:  // MONGOLIAN LETTER ALI GALI BALUDA: Lo in 8.0.
    case 0x1886:
      return U_OTHER_LETTER;
    case 0xA9BD:  // JAVANESE CONSONANT SIGN KERET: Mc in 8.0.
      return U_COMBINING_SPACING_MARK;
    case 0x111C9:  // SHARADA SANDHI MARK: Po in 8.0, Mn since 11.0.
    case 0x166D:   // CANADIAN SYLLABICS CHI SIGN: Po in 8.0, So since 12.0.
      return U_OTHER_PUNCTUATION;
    default:
      break;
  }
  if (!AssignedBy(c, 8, 0)) return U_UNASSIGNED;
  return u_charType(static_cast<UChar32>(c));
}

const icu::Normalizer2* NfdInstance() {
  static const icu::Normalizer2* const nfd = [] {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = icu::Normalizer2::getNFDInstance(status);
    return U_SUCCESS(status) ? n : nullptr;
  }();
  return nfd;
}

}  // namespace

bool IsWhitespace(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
  return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_WHITE_SPACE);
}

bool IsControl(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  if (c < 0x80) return c < 0x20 || c == 0x7F;
  switch (Category8(c)) {
    case U_CONTROL_CHAR:
    case U_FORMAT_CHAR:
    case U_PRIVATE_USE_CHAR:
    case U_SURROGATE:
      return true;
    default:
      return false;
  }
}

bool IsPunctuation(char32_t c) {
  if (c < 0x80) {
    return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) ||
           (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
  }
  switch (Category8(c)) {
    case U_DASH_PUNCTUATION:
    case U_START_PUNCTUATION:
    case U_END_PUNCTUATION:
    case U_CONNECTOR_PUNCTUATION:
    case U_OTHER_PUNCTUATION:
    case U_INITIAL_PUNCTUATION:
    case U_FINAL_PUNCTUATION:
      return true;
    default:
      return false;
  }
}

bool IsChineseChar(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool IsNonspacingMark(char32_t c) {
  if (c < 0x300) return false;
  return Category8(c) == U_NON_SPACING_MARK;
}

uint8_t CombiningClass(char32_t c) {
  if (c < 0x300) return 0;
  const uint8_t ccc = u_getCombiningClass(static_cast<UChar32>(c));
  if (ccc == 0 || !AssignedBy(c, 9, 0)) return 0;
  return ccc;
}

int CanonicalDecomposition(char32_t c, char32_t out[kMaxDecomposition]) {
  out[0] = c;
  if (c < 0xC0) return 1;
  const icu::Normalizer2* nfd = NfdInstance();
  icu::UnicodeString decomposition;
  if (nfd == nullptr ||
      !nfd->getDecomposition(static_cast<UChar32>(c), decomposition) ||
      !AssignedBy(c, 9, 0)) {
    return 1;
  }
  int n = 0;
  for (int32_t i = 0; i < decomposition.length() && n < kMaxDecomposition;) {
    const UChar32 d = decomposition.char32At(i);
    out[n++] = static_cast<char32_t>(d);
    i += U16_LENGTH(d);
  }
  return n;
}

bool IsWordChar(char32_t c) {
  if (c < 0x80) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') || c == '_';
  }
  const UChar32 u = static_cast<UChar32>(c);
  if (u_hasBinaryProperty(u, UCHAR_ALPHABETIC) ||
      u_hasBinaryProperty(u, UCHAR_JOIN_CONTROL)) {
    return true;
  }
  const int32_t mask = U_GET_GC_MASK(u);
  return (mask & (U_GC_M_MASK | U_GC_ND_MASK | U_GC_PC_MASK)) != 0;
}

bool HasNormalizationData() { return NfdInstance() != nullptr; }

int ToLowercase(char32_t c, char32_t out[2]) {
  if (c < 0x80) {
    out[0] = (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
    return 1;
  }
  if (c == 0x130) {  // The only unconditional multi-character lowercase.
    out[0] = 'i';
    out[1] = 0x307;
    return 2;
  }
  out[0] = static_cast<char32_t>(u_tolower(static_cast<UChar32>(c)));
  return 1;
}

}  // namespace ptune::text
