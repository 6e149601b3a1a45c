/* vtp-wordpiece.c: HuggingFace `tokenizers` BERT WordPiece, id-exact.
 *
 * The pipeline follows tokenizers' TokenizerImpl::encode:
 *   1. added tokens that are not "normalized" ([CLS], [SEP], [DEC], ...) are
 *      cut out of the raw text (leftmost-longest, with AddedVocabulary's
 *      lstrip / rstrip / single_word rules);
 *   2. each remaining piece goes through BertNormalizer: clean_text (drop
 *      control / format / private-use chars, NUL and U+FFFD, whitespace ->
 *      ' '), spaces around CJK ideographs, strip_accents (NFD, then drop
 *      nonspacing marks), lowercase; "normalized" added tokens are then cut
 *      out of the normalized text;
 *   3. BertPreTokenizer: split on whitespace (dropped) and around every
 *      punctuation char (kept alone);
 *   4. WordPiece: greedy longest match from the left, "##" on every piece
 *      but the first, the whole word [UNK] when a position has no match or
 *      the word has more than max_input_chars_per_word chars;
 *   5. truncation, then the post-processor ([CLS] $A [SEP]).
 * Decoding maps ids to tokens and runs the WordPiece decoder (strip "##",
 * else prepend ' '; per-token cleanup of " ." " ?" ... ). */
#include "vtp-wordpiece.h"
#include "vtp-json.h"
#include <stdarg.h>
#include <string.h>

G_DEFINE_QUARK (vtp-wordpiece-error-quark, vtp_wordpiece_error)

/* ------------------------------------------------------------------------ */
/* Unicode tables, as tokenizers has them. Measured from tokenizers 0.23.3
 * by `tools/make_wordpiece_fixtures.py --c-tables` (which prints this
 * block); the categories come from the unicode_categories crate, frozen at
 * an old Unicode version, so GLib's newer tables cannot stand in for them. */

typedef struct { gunichar lo, hi; } CpRange;
typedef struct { gunichar lo, hi; gint32 delta; } CpDelta;

/* tokenizers' lowercase (Rust char::to_lowercase) where GLib's g_unichar_tolower differs: 98 code points */
static const CpDelta lower_exceptions[] = {
  { 0x1C89, 0x1C89, 1 },
  { 0x2160, 0x216F, 16 },
  { 0x24B6, 0x24CF, 26 },
  { 0xA7CB, 0xA7CB, -42343 },
  { 0xA7CC, 0xA7CC, 1 },
  { 0xA7CE, 0xA7CE, 1 },
  { 0xA7D2, 0xA7D2, 1 },
  { 0xA7D4, 0xA7D4, 1 },
  { 0xA7DA, 0xA7DA, 1 },
  { 0xA7DC, 0xA7DC, -42561 },
  { 0x10D50, 0x10D65, 32 },
  { 0x16EA0, 0x16EB8, 27 },
};
/* chars that GLib's NFD decomposes but tokenizers' does not */
static const gunichar nfd_keep[] = { 0x11938 };
/* Cc, Cf, Co (clean_text drops them): 137679 code points in 24 ranges */
static const CpRange other_ranges[] = {
  { 0x1, 0x8 }, { 0xB, 0xC }, { 0xE, 0x1F }, { 0x7F, 0x9F }, { 0xAD, 0xAD }, { 0x600, 0x605 },
  { 0x61C, 0x61C }, { 0x6DD, 0x6DD }, { 0x70F, 0x70F }, { 0x180E, 0x180E }, { 0x200B, 0x200F },
  { 0x202A, 0x202E }, { 0x2060, 0x2064 }, { 0x2066, 0x206F }, { 0xE000, 0xF8FF }, { 0xFEFF, 0xFEFF },
  { 0xFFF9, 0xFFFB }, { 0x110BD, 0x110BD }, { 0x1BCA0, 0x1BCA3 }, { 0x1D173, 0x1D17A }, { 0xE0001, 0xE0001 },
  { 0xE0020, 0xE007F }, { 0xF0000, 0xFFFFD }, { 0x100000, 0x10FFFD },
};
/* P* beyond ASCII (BertPreTokenizer isolates them): 694 code points in 152 ranges */
static const CpRange punct_ranges[] = {
  { 0xA1, 0xA1 }, { 0xA7, 0xA7 }, { 0xAB, 0xAB }, { 0xB6, 0xB7 }, { 0xBB, 0xBB }, { 0xBF, 0xBF },
  { 0x37E, 0x37E }, { 0x387, 0x387 }, { 0x55A, 0x55F }, { 0x589, 0x58A }, { 0x5BE, 0x5BE }, { 0x5C0, 0x5C0 },
  { 0x5C3, 0x5C3 }, { 0x5C6, 0x5C6 }, { 0x5F3, 0x5F4 }, { 0x609, 0x60A }, { 0x60C, 0x60D }, { 0x61B, 0x61B },
  { 0x61E, 0x61F }, { 0x66A, 0x66D }, { 0x6D4, 0x6D4 }, { 0x700, 0x70D }, { 0x7F7, 0x7F9 }, { 0x830, 0x83E },
  { 0x85E, 0x85E }, { 0x964, 0x965 }, { 0x970, 0x970 }, { 0xAF0, 0xAF0 }, { 0xDF4, 0xDF4 }, { 0xE4F, 0xE4F },
  { 0xE5A, 0xE5B }, { 0xF04, 0xF12 }, { 0xF14, 0xF14 }, { 0xF3A, 0xF3D }, { 0xF85, 0xF85 }, { 0xFD0, 0xFD4 },
  { 0xFD9, 0xFDA }, { 0x104A, 0x104F }, { 0x10FB, 0x10FB }, { 0x1360, 0x1368 }, { 0x1400, 0x1400 },
  { 0x166D, 0x166E }, { 0x169B, 0x169C }, { 0x16EB, 0x16ED }, { 0x1735, 0x1736 }, { 0x17D4, 0x17D6 },
  { 0x17D8, 0x17DA }, { 0x1800, 0x180A }, { 0x1944, 0x1945 }, { 0x1A1E, 0x1A1F }, { 0x1AA0, 0x1AA6 },
  { 0x1AA8, 0x1AAD }, { 0x1B5A, 0x1B60 }, { 0x1BFC, 0x1BFF }, { 0x1C3B, 0x1C3F }, { 0x1C7E, 0x1C7F },
  { 0x1CC0, 0x1CC7 }, { 0x1CD3, 0x1CD3 }, { 0x2010, 0x2027 }, { 0x2030, 0x2043 }, { 0x2045, 0x2051 },
  { 0x2053, 0x205E }, { 0x207D, 0x207E }, { 0x208D, 0x208E }, { 0x2308, 0x230B }, { 0x2329, 0x232A },
  { 0x2768, 0x2775 }, { 0x27C5, 0x27C6 }, { 0x27E6, 0x27EF }, { 0x2983, 0x2998 }, { 0x29D8, 0x29DB },
  { 0x29FC, 0x29FD }, { 0x2CF9, 0x2CFC }, { 0x2CFE, 0x2CFF }, { 0x2D70, 0x2D70 }, { 0x2E00, 0x2E2E },
  { 0x2E30, 0x2E42 }, { 0x3001, 0x3003 }, { 0x3008, 0x3011 }, { 0x3014, 0x301F }, { 0x3030, 0x3030 },
  { 0x303D, 0x303D }, { 0x30A0, 0x30A0 }, { 0x30FB, 0x30FB }, { 0xA4FE, 0xA4FF }, { 0xA60D, 0xA60F },
  { 0xA673, 0xA673 }, { 0xA67E, 0xA67E }, { 0xA6F2, 0xA6F7 }, { 0xA874, 0xA877 }, { 0xA8CE, 0xA8CF },
  { 0xA8F8, 0xA8FA }, { 0xA8FC, 0xA8FC }, { 0xA92E, 0xA92F }, { 0xA95F, 0xA95F }, { 0xA9C1, 0xA9CD },
  { 0xA9DE, 0xA9DF }, { 0xAA5C, 0xAA5F }, { 0xAADE, 0xAADF }, { 0xAAF0, 0xAAF1 }, { 0xABEB, 0xABEB },
  { 0xFD3E, 0xFD3F }, { 0xFE10, 0xFE19 }, { 0xFE30, 0xFE52 }, { 0xFE54, 0xFE61 }, { 0xFE63, 0xFE63 },
  { 0xFE68, 0xFE68 }, { 0xFE6A, 0xFE6B }, { 0xFF01, 0xFF03 }, { 0xFF05, 0xFF0A }, { 0xFF0C, 0xFF0F },
  { 0xFF1A, 0xFF1B }, { 0xFF1F, 0xFF20 }, { 0xFF3B, 0xFF3D }, { 0xFF3F, 0xFF3F }, { 0xFF5B, 0xFF5B },
  { 0xFF5D, 0xFF5D }, { 0xFF5F, 0xFF65 }, { 0x10100, 0x10102 }, { 0x1039F, 0x1039F }, { 0x103D0, 0x103D0 },
  { 0x1056F, 0x1056F }, { 0x10857, 0x10857 }, { 0x1091F, 0x1091F }, { 0x1093F, 0x1093F },
  { 0x10A50, 0x10A58 }, { 0x10A7F, 0x10A7F }, { 0x10AF0, 0x10AF6 }, { 0x10B39, 0x10B3F },
  { 0x10B99, 0x10B9C }, { 0x11047, 0x1104D }, { 0x110BB, 0x110BC }, { 0x110BE, 0x110C1 },
  { 0x11140, 0x11143 }, { 0x11174, 0x11175 }, { 0x111C5, 0x111C9 }, { 0x111CD, 0x111CD },
  { 0x111DB, 0x111DB }, { 0x111DD, 0x111DF }, { 0x11238, 0x1123D }, { 0x112A9, 0x112A9 },
  { 0x114C6, 0x114C6 }, { 0x115C1, 0x115D7 }, { 0x11641, 0x11643 }, { 0x1173C, 0x1173E },
  { 0x12470, 0x12474 }, { 0x16A6E, 0x16A6F }, { 0x16AF5, 0x16AF5 }, { 0x16B37, 0x16B3B },
  { 0x16B44, 0x16B44 }, { 0x1BC9F, 0x1BC9F }, { 0x1DA87, 0x1DA8B },
};
/* Mn (strip_accents drops them): 1549 code points in 279 ranges */
static const CpRange mn_ranges[] = {
  { 0x300, 0x33F }, { 0x342, 0x342 }, { 0x345, 0x36F }, { 0x483, 0x487 }, { 0x591, 0x5BD }, { 0x5BF, 0x5BF },
  { 0x5C1, 0x5C2 }, { 0x5C4, 0x5C5 }, { 0x5C7, 0x5C7 }, { 0x610, 0x61A }, { 0x64B, 0x65F }, { 0x670, 0x670 },
  { 0x6D6, 0x6DC }, { 0x6DF, 0x6E4 }, { 0x6E7, 0x6E8 }, { 0x6EA, 0x6ED }, { 0x711, 0x711 }, { 0x730, 0x74A },
  { 0x7A6, 0x7B0 }, { 0x7EB, 0x7F3 }, { 0x816, 0x819 }, { 0x81B, 0x823 }, { 0x825, 0x827 }, { 0x829, 0x82D },
  { 0x859, 0x85B }, { 0x8E3, 0x902 }, { 0x93A, 0x93A }, { 0x93C, 0x93C }, { 0x941, 0x948 }, { 0x94D, 0x94D },
  { 0x951, 0x957 }, { 0x962, 0x963 }, { 0x981, 0x981 }, { 0x9BC, 0x9BC }, { 0x9C1, 0x9C4 }, { 0x9CD, 0x9CD },
  { 0x9E2, 0x9E3 }, { 0xA01, 0xA02 }, { 0xA3C, 0xA3C }, { 0xA41, 0xA42 }, { 0xA47, 0xA48 }, { 0xA4B, 0xA4D },
  { 0xA51, 0xA51 }, { 0xA70, 0xA71 }, { 0xA75, 0xA75 }, { 0xA81, 0xA82 }, { 0xABC, 0xABC }, { 0xAC1, 0xAC5 },
  { 0xAC7, 0xAC8 }, { 0xACD, 0xACD }, { 0xAE2, 0xAE3 }, { 0xB01, 0xB01 }, { 0xB3C, 0xB3C }, { 0xB3F, 0xB3F },
  { 0xB41, 0xB44 }, { 0xB4D, 0xB4D }, { 0xB56, 0xB56 }, { 0xB62, 0xB63 }, { 0xB82, 0xB82 }, { 0xBC0, 0xBC0 },
  { 0xBCD, 0xBCD }, { 0xC00, 0xC00 }, { 0xC3E, 0xC40 }, { 0xC46, 0xC47 }, { 0xC4A, 0xC4D }, { 0xC55, 0xC56 },
  { 0xC62, 0xC63 }, { 0xC81, 0xC81 }, { 0xCBC, 0xCBC }, { 0xCBF, 0xCBF }, { 0xCC6, 0xCC6 }, { 0xCCC, 0xCCD },
  { 0xCE2, 0xCE3 }, { 0xD01, 0xD01 }, { 0xD41, 0xD44 }, { 0xD4D, 0xD4D }, { 0xD62, 0xD63 }, { 0xDCA, 0xDCA },
  { 0xDD2, 0xDD4 }, { 0xDD6, 0xDD6 }, { 0xE31, 0xE31 }, { 0xE34, 0xE3A }, { 0xE47, 0xE4E }, { 0xEB1, 0xEB1 },
  { 0xEB4, 0xEB9 }, { 0xEBB, 0xEBC }, { 0xEC8, 0xECD }, { 0xF18, 0xF19 }, { 0xF35, 0xF35 }, { 0xF37, 0xF37 },
  { 0xF39, 0xF39 }, { 0xF71, 0xF72 }, { 0xF74, 0xF74 }, { 0xF77, 0xF77 }, { 0xF79, 0xF7E }, { 0xF80, 0xF80 },
  { 0xF82, 0xF84 }, { 0xF86, 0xF87 }, { 0xF8D, 0xF92 }, { 0xF94, 0xF97 }, { 0xF99, 0xF9C }, { 0xF9E, 0xFA1 },
  { 0xFA3, 0xFA6 }, { 0xFA8, 0xFAB }, { 0xFAD, 0xFB8 }, { 0xFBA, 0xFBC }, { 0xFC6, 0xFC6 },
  { 0x102D, 0x1030 }, { 0x1032, 0x1037 }, { 0x1039, 0x103A }, { 0x103D, 0x103E }, { 0x1058, 0x1059 },
  { 0x105E, 0x1060 }, { 0x1071, 0x1074 }, { 0x1082, 0x1082 }, { 0x1085, 0x1086 }, { 0x108D, 0x108D },
  { 0x109D, 0x109D }, { 0x135D, 0x135F }, { 0x1712, 0x1714 }, { 0x1732, 0x1734 }, { 0x1752, 0x1753 },
  { 0x1772, 0x1773 }, { 0x17B4, 0x17B5 }, { 0x17B7, 0x17BD }, { 0x17C6, 0x17C6 }, { 0x17C9, 0x17D3 },
  { 0x17DD, 0x17DD }, { 0x180B, 0x180D }, { 0x18A9, 0x18A9 }, { 0x1920, 0x1922 }, { 0x1927, 0x1928 },
  { 0x1932, 0x1932 }, { 0x1939, 0x193B }, { 0x1A17, 0x1A18 }, { 0x1A1B, 0x1A1B }, { 0x1A56, 0x1A56 },
  { 0x1A58, 0x1A5E }, { 0x1A60, 0x1A60 }, { 0x1A62, 0x1A62 }, { 0x1A65, 0x1A6C }, { 0x1A73, 0x1A7C },
  { 0x1A7F, 0x1A7F }, { 0x1AB0, 0x1ABD }, { 0x1B00, 0x1B03 }, { 0x1B34, 0x1B34 }, { 0x1B36, 0x1B3A },
  { 0x1B3C, 0x1B3C }, { 0x1B42, 0x1B42 }, { 0x1B6B, 0x1B73 }, { 0x1B80, 0x1B81 }, { 0x1BA2, 0x1BA5 },
  { 0x1BA8, 0x1BA9 }, { 0x1BAB, 0x1BAD }, { 0x1BE6, 0x1BE6 }, { 0x1BE8, 0x1BE9 }, { 0x1BED, 0x1BED },
  { 0x1BEF, 0x1BF1 }, { 0x1C2C, 0x1C33 }, { 0x1C36, 0x1C37 }, { 0x1CD0, 0x1CD2 }, { 0x1CD4, 0x1CE0 },
  { 0x1CE2, 0x1CE8 }, { 0x1CED, 0x1CED }, { 0x1CF4, 0x1CF4 }, { 0x1CF8, 0x1CF9 }, { 0x1DC0, 0x1DF5 },
  { 0x1DFC, 0x1DFF }, { 0x20D0, 0x20DC }, { 0x20E1, 0x20E1 }, { 0x20E5, 0x20F0 }, { 0x2CEF, 0x2CF1 },
  { 0x2D7F, 0x2D7F }, { 0x2DE0, 0x2DFF }, { 0x302A, 0x302D }, { 0x3099, 0x309A }, { 0xA66F, 0xA66F },
  { 0xA674, 0xA67D }, { 0xA69E, 0xA69F }, { 0xA6F0, 0xA6F1 }, { 0xA802, 0xA802 }, { 0xA806, 0xA806 },
  { 0xA80B, 0xA80B }, { 0xA825, 0xA826 }, { 0xA8C4, 0xA8C4 }, { 0xA8E0, 0xA8F1 }, { 0xA926, 0xA92D },
  { 0xA947, 0xA951 }, { 0xA980, 0xA982 }, { 0xA9B3, 0xA9B3 }, { 0xA9B6, 0xA9B9 }, { 0xA9BC, 0xA9BC },
  { 0xA9E5, 0xA9E5 }, { 0xAA29, 0xAA2E }, { 0xAA31, 0xAA32 }, { 0xAA35, 0xAA36 }, { 0xAA43, 0xAA43 },
  { 0xAA4C, 0xAA4C }, { 0xAA7C, 0xAA7C }, { 0xAAB0, 0xAAB0 }, { 0xAAB2, 0xAAB4 }, { 0xAAB7, 0xAAB8 },
  { 0xAABE, 0xAABF }, { 0xAAC1, 0xAAC1 }, { 0xAAEC, 0xAAED }, { 0xAAF6, 0xAAF6 }, { 0xABE5, 0xABE5 },
  { 0xABE8, 0xABE8 }, { 0xABED, 0xABED }, { 0xFB1E, 0xFB1E }, { 0xFE00, 0xFE0F }, { 0xFE20, 0xFE2F },
  { 0x101FD, 0x101FD }, { 0x102E0, 0x102E0 }, { 0x10376, 0x1037A }, { 0x10A01, 0x10A03 },
  { 0x10A05, 0x10A06 }, { 0x10A0C, 0x10A0F }, { 0x10A38, 0x10A3A }, { 0x10A3F, 0x10A3F },
  { 0x10AE5, 0x10AE6 }, { 0x11001, 0x11001 }, { 0x11038, 0x11046 }, { 0x1107F, 0x11081 },
  { 0x110B3, 0x110B6 }, { 0x110B9, 0x110BA }, { 0x11100, 0x11102 }, { 0x11127, 0x1112B },
  { 0x1112D, 0x1112D }, { 0x11130, 0x11134 }, { 0x11173, 0x11173 }, { 0x11180, 0x11181 },
  { 0x111B6, 0x111BE }, { 0x111CA, 0x111CC }, { 0x1122F, 0x11231 }, { 0x11234, 0x11234 },
  { 0x11236, 0x11237 }, { 0x112DF, 0x112DF }, { 0x112E3, 0x112EA }, { 0x11300, 0x11301 },
  { 0x1133C, 0x1133C }, { 0x11340, 0x11340 }, { 0x11366, 0x1136C }, { 0x11370, 0x11374 },
  { 0x114B3, 0x114B8 }, { 0x114BA, 0x114BA }, { 0x114BF, 0x114C0 }, { 0x114C2, 0x114C3 },
  { 0x115B2, 0x115B5 }, { 0x115BC, 0x115BD }, { 0x115BF, 0x115C0 }, { 0x115DC, 0x115DD },
  { 0x11633, 0x1163A }, { 0x1163D, 0x1163D }, { 0x1163F, 0x11640 }, { 0x116AB, 0x116AB },
  { 0x116AD, 0x116AD }, { 0x116B0, 0x116B5 }, { 0x116B7, 0x116B7 }, { 0x1171D, 0x1171F },
  { 0x11722, 0x11725 }, { 0x11727, 0x1172B }, { 0x16AF0, 0x16AF4 }, { 0x16B30, 0x16B36 },
  { 0x16F8F, 0x16F92 }, { 0x1BC9D, 0x1BC9E }, { 0x1D167, 0x1D169 }, { 0x1D17B, 0x1D182 },
  { 0x1D185, 0x1D18B }, { 0x1D1AA, 0x1D1AD }, { 0x1D242, 0x1D244 }, { 0x1DA00, 0x1DA36 },
  { 0x1DA3B, 0x1DA6C }, { 0x1DA75, 0x1DA75 }, { 0x1DA84, 0x1DA84 }, { 0x1DA9B, 0x1DA9F },
  { 0x1DAA1, 0x1DAAF }, { 0x1E8D0, 0x1E8D6 }, { 0xE0100, 0xE01EF },
};

/* ------------------------------------------------------------------------ */
/* Character classes */

static gboolean
in_ranges (const CpRange *r, gsize n, gunichar c)
{
  gsize lo = 0, hi = n;
  while (lo < hi) {
    gsize mid = (lo + hi) / 2;
    if (c < r[mid].lo)
      hi = mid;
    else if (c > r[mid].hi)
      lo = mid + 1;
    else
      return TRUE;
  }
  return FALSE;
}

/* Rust's char::is_whitespace (the White_Space property) */
static inline gboolean
is_rust_ws (gunichar c)
{
  if (c < 0x80)
    return (c >= 0x09 && c <= 0x0D) || c == 0x20;
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028
      || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* BertNormalizer's is_control: Cc / Cf / Co, but not \t \n \r */
static inline gboolean
is_control (gunichar c)
{
  if (c == '\t' || c == '\n' || c == '\r')
    return FALSE;
  if (c < 0x80)
    return c < 0x20 || c == 0x7F;
  return in_ranges (other_ranges, G_N_ELEMENTS (other_ranges), c);
}

/* BertPreTokenizer's is_bert_punc: ASCII punctuation or P* */
static inline gboolean
is_punct (gunichar c)
{
  if (c < 0x80)
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60)
        || (c >= 0x7B && c <= 0x7E);
  return in_ranges (punct_ranges, G_N_ELEMENTS (punct_ranges), c);
}

static inline gboolean
is_nonspacing_mark (gunichar c)
{
  return c >= 0x300 && in_ranges (mn_ranges, G_N_ELEMENTS (mn_ranges), c);
}

/* BertNormalizer's is_chinese_char: the CJK ideograph blocks it lists */
static inline gboolean
is_cjk (gunichar c)
{
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF)
      || (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF)
      || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* Rust regex \w (for single_word added tokens): Alphabetic, M, Nd, Pc,
 * Join_Control; Alphabetic approximated by the letter categories, Nl and
 * the circled letters */
static gboolean
is_word_char (gunichar c)
{
  switch (g_unichar_type (c)) {
    case G_UNICODE_LOWERCASE_LETTER: case G_UNICODE_UPPERCASE_LETTER:
    case G_UNICODE_TITLECASE_LETTER: case G_UNICODE_MODIFIER_LETTER:
    case G_UNICODE_OTHER_LETTER: case G_UNICODE_LETTER_NUMBER:
    case G_UNICODE_NON_SPACING_MARK: case G_UNICODE_SPACING_MARK:
    case G_UNICODE_ENCLOSING_MARK: case G_UNICODE_DECIMAL_NUMBER:
    case G_UNICODE_CONNECT_PUNCTUATION:
      return TRUE;
    default:
      return c == 0x200C || c == 0x200D || (c >= 0x24B6 && c <= 0x24E9);
  }
}

/* Rust's char::to_lowercase, appended to @out */
static inline void
append_lower (GString *out, gunichar c)
{
  if (c < 0x80) {
    g_string_append_c (out, (char) g_ascii_tolower ((char) c));
    return;
  }
  if (c == 0x130) {     /* the only multi-char lowercase: İ -> i + COMBINING DOT ABOVE */
    g_string_append (out, "i\xCC\x87");
    return;
  }
  {
    gsize lo = 0, hi = G_N_ELEMENTS (lower_exceptions);
    while (lo < hi) {
      gsize mid = (lo + hi) / 2;
      if (c < lower_exceptions[mid].lo)
        hi = mid;
      else if (c > lower_exceptions[mid].hi)
        lo = mid + 1;
      else {
        g_string_append_unichar (out, c + lower_exceptions[mid].delta);
        return;
      }
    }
  }
  g_string_append_unichar (out, g_unichar_tolower (c));
}

static gboolean
is_nfd_keep (gunichar c)
{
  for (guint i = 0; i < G_N_ELEMENTS (nfd_keep); i++)
    if (nfd_keep[i] == c)
      return TRUE;
  return FALSE;
}

/* Length of the longest valid UTF-8 prefix of @s (Rust's rules: no
 * surrogates, no overlongs, <= U+10FFFF) */
static gsize
utf8_valid_prefix (const guchar *s, gsize n)
{
  gsize i = 0;
  while (i < n) {
    guchar c = s[i];
    gsize need;
    guint32 cp, min;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      need = 1; cp = c & 0x1F; min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2; cp = c & 0x0F; min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3; cp = c & 0x07; min = 0x10000;
    } else {
      return i;
    }
    if (n - i <= need)
      return i;
    for (gsize k = 1; k <= need; k++) {
      if ((s[i + k] & 0xC0) != 0x80)
        return i;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return i;
    i += need + 1;
  }
  return i;
}

static inline gsize
utf8_len (guchar c)
{
  return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* ------------------------------------------------------------------------ */
/* Types */

typedef struct {
  char *content;
  char *normed;     /* the normalized content when it differs (HF's normalized_cache) */
  gboolean special, normalized, lstrip, rstrip, single_word;
} AddedToken;

typedef struct {
  char *pat;
  gsize len;
  gint32 id;
} Pattern;

typedef struct {
  Pattern *pats;    /* sorted by first byte, then longest first */
  guint n;
  guint start[257]; /* pats[start[b] .. start[b + 1]) begin with byte b */
} Matcher;

struct _VtpWordPiece {
  char *name;

  /* model */
  GHashTable *vocab;          /* token (owned) -> GINT_TO_POINTER (id) */
  GHashTable *vocab_r;        /* GINT_TO_POINTER (id) -> token (borrowed) */
  guint n_vocab;
  char *unk_token;
  char *prefix;               /* continuing_subword_prefix */
  gsize prefix_len;
  guint64 max_chars;          /* max_input_chars_per_word */
  gsize max_token_len;        /* bytes of the longest vocab token */

  /* normalizer */
  gboolean has_normalizer, clean_text, chinese, strip_accents, lowercase;
  /* pre-tokenizer */
  gboolean bert_pre;
  /* post-processor: ids, -1 for $A; NULL: none */
  GArray *tmpl;
  guint n_specials;
  /* decoder */
  gboolean has_decoder, cleanup;
  char *dec_prefix;
  /* truncation */
  gint64 trunc_max;           /* from the file, 0: none */
  gboolean trunc_left;

  /* added vocabulary */
  GHashTable *added_map;      /* content (owned) -> id */
  GHashTable *added_r;        /* id -> AddedToken* (owned) */
  GHashTable *special_set;    /* content (owned) */
  gint64 max_added_id;        /* -1: none */
  gboolean loading;
  Matcher raw_m, norm_m;
};

static void
added_token_free (gpointer p)
{
  AddedToken *t = p;
  g_free (t->content);
  g_free (t->normed);
  g_free (t);
}

static void
matcher_clear (Matcher *m)
{
  for (guint i = 0; i < m->n; i++)
    g_free (m->pats[i].pat);
  g_free (m->pats);
  memset (m, 0, sizeof *m);
}

static VtpWordPiece *
wp_alloc (const char *name)
{
  VtpWordPiece *wp = g_new0 (VtpWordPiece, 1);
  wp->name = g_strdup (name);
  wp->vocab = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  wp->vocab_r = g_hash_table_new (g_direct_hash, g_direct_equal);
  wp->added_map = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  wp->added_r = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, added_token_free);
  wp->special_set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  wp->max_added_id = -1;
  wp->max_chars = 100;
  return wp;
}

void
vtp_wordpiece_free (VtpWordPiece *wp)
{
  if (!wp)
    return;
  g_free (wp->name);
  g_hash_table_unref (wp->vocab_r);
  g_hash_table_unref (wp->vocab);
  g_free (wp->unk_token);
  g_free (wp->prefix);
  if (wp->tmpl)
    g_array_unref (wp->tmpl);
  g_free (wp->dec_prefix);
  g_hash_table_unref (wp->added_map);
  g_hash_table_unref (wp->added_r);
  g_hash_table_unref (wp->special_set);
  matcher_clear (&wp->raw_m);
  matcher_clear (&wp->norm_m);
  g_free (wp);
}

static inline gboolean
vocab_get (const VtpWordPiece *wp, const char *token, gint32 *id)
{
  gpointer v;
  if (!g_hash_table_lookup_extended (wp->vocab, token, NULL, &v))
    return FALSE;
  *id = GPOINTER_TO_INT (v);
  return TRUE;
}

/* Adds a model vocab entry; a repeated token takes the later id, as a
 * Python dict built line by line does */
static void
vocab_insert (VtpWordPiece *wp, const char *token, gsize len, gint32 id)
{
  char *t = g_strndup (token, len);
  gpointer old;
  if (g_hash_table_lookup_extended (wp->vocab, t, NULL, &old))
    g_hash_table_remove (wp->vocab_r, old);
  g_hash_table_replace (wp->vocab, t, GINT_TO_POINTER (id));
  g_hash_table_replace (wp->vocab_r, GINT_TO_POINTER (id), t);
  wp->max_token_len = MAX (wp->max_token_len, len);
}

/* ------------------------------------------------------------------------ */
/* BertNormalizer */

/* NFD of @in[0..n) appended to @out, leaving the chars tokenizers does not
 * decompose (nfd_keep, all starters) as they are */
static void
append_nfd (GString *out, const char *in, gsize n)
{
  gsize seg = 0, i = 0;
  gboolean plain = TRUE;
  for (gsize k = 0; k < n; k++)
    if ((guchar) in[k] >= 0xC3) {   /* nothing below U+00C0 decomposes or reorders */
      plain = FALSE;
      break;
    }
  if (plain) {
    g_string_append_len (out, in, n);
    return;
  }
  while (i <= n) {
    gboolean keep = i < n && (guchar) in[i] >= 0xC3 && is_nfd_keep (g_utf8_get_char (in + i));
    if (i == n || keep) {
      if (i > seg) {
        char *d = g_utf8_normalize (in + seg, i - seg, G_NORMALIZE_NFD);
        g_string_append (out, d);
        g_free (d);
      }
      if (i == n)
        break;
      g_string_append_len (out, in + i, utf8_len ((guchar) in[i]));
      i += utf8_len ((guchar) in[i]);
      seg = i;
    } else {
      i += utf8_len ((guchar) in[i]);
    }
  }
}

/* BertNormalizer::normalize on @s[0..n) (valid UTF-8, no NUL), appended to @out */
static void
normalize_append (const VtpWordPiece *wp, const char *s, gsize n, GString *out)
{
  GString *a;

  if (!wp->has_normalizer) {
    g_string_append_len (out, s, n);
    return;
  }
  /* clean_text and handle_chinese_chars: char by char */
  a = g_string_sized_new (n + 16);
  for (gsize i = 0; i < n;) {
    gsize l = utf8_len ((guchar) s[i]);
    gunichar c = l == 1 ? (guchar) s[i] : g_utf8_get_char (s + i);
    if (wp->clean_text) {
      if (c == 0 || c == 0xFFFD || is_control (c)) {
        i += l;
        continue;
      }
      if (is_rust_ws (c)) {
        g_string_append_c (a, ' ');
        i += l;
        continue;
      }
    }
    if (wp->chinese && c >= 0x3400 && is_cjk (c)) {
      g_string_append_c (a, ' ');
      g_string_append_len (a, s + i, l);
      g_string_append_c (a, ' ');
    } else {
      g_string_append_len (a, s + i, l);
    }
    i += l;
  }
  /* strip_accents: NFD, then drop the nonspacing marks */
  if (wp->strip_accents) {
    GString *d = g_string_sized_new (a->len + 16);
    append_nfd (d, a->str, a->len);
    g_string_truncate (a, 0);
    for (gsize i = 0; i < d->len;) {
      gsize l = utf8_len ((guchar) d->str[i]);
      if (l == 1 || !is_nonspacing_mark (g_utf8_get_char (d->str + i)))
        g_string_append_len (a, d->str + i, l);
      i += l;
    }
    g_string_free (d, TRUE);
  }
  if (!wp->lowercase) {
    g_string_append_len (out, a->str, a->len);
    g_string_free (a, TRUE);
    return;
  }
  for (gsize i = 0; i < a->len;) {
    gsize l = utf8_len ((guchar) a->str[i]);
    append_lower (out, l == 1 ? (guchar) a->str[i] : g_utf8_get_char (a->str + i));
    i += l;
  }
  g_string_free (a, TRUE);
}

static char *
normalize_string (const VtpWordPiece *wp, const char *s)
{
  GString *out = g_string_new (NULL);
  normalize_append (wp, s, strlen (s), out);
  return g_string_free (out, FALSE);
}

/* ------------------------------------------------------------------------ */
/* Added tokens */

typedef struct {
  gsize start, end;
  gint32 id;        /* -1: not an added token */
} Split;

static int
pattern_cmp (gconstpointer pa, gconstpointer pb)
{
  const Pattern *a = pa, *b = pb;
  guchar fa = (guchar) a->pat[0], fb = (guchar) b->pat[0];
  if (fa != fb)
    return fa < fb ? -1 : 1;
  if (a->len != b->len)
    return a->len > b->len ? -1 : 1;
  return a->id < b->id ? -1 : a->id > b->id;
}

static void
matcher_build (Matcher *m, GArray *pats)
{
  guint k = 0;
  matcher_clear (m);
  g_array_sort (pats, pattern_cmp);
  m->n = pats->len;
  m->pats = (Pattern *) g_array_free (pats, FALSE);
  for (guint b = 0; b < 256; b++) {
    m->start[b] = k;
    while (k < m->n && (guchar) m->pats[k].pat[0] == b)
      k++;
  }
  m->start[256] = m->n;
}

static void
refresh_added_tokens (VtpWordPiece *wp)
{
  GArray *raw = g_array_new (FALSE, FALSE, sizeof (Pattern));
  GArray *nrm = g_array_new (FALSE, FALSE, sizeof (Pattern));
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, wp->added_r);
  while (g_hash_table_iter_next (&it, &k, &v)) {
    const AddedToken *t = v;
    Pattern p;
    p.id = GPOINTER_TO_INT (k);
    p.pat = g_strdup (t->normalized && t->normed ? t->normed : t->content);
    p.len = strlen (p.pat);
    if (p.len == 0) {       /* a token that normalizes to nothing never matches */
      g_free (p.pat);
      continue;
    }
    g_array_append_val (t->normalized ? nrm : raw, p);
  }
  matcher_build (&wp->raw_m, raw);
  matcher_build (&wp->norm_m, nrm);
}

static gint32
add_token_full (VtpWordPiece *wp, const char *content, gboolean special, gboolean normalized, gboolean lstrip,
    gboolean rstrip, gboolean single_word)
{
  gpointer v;
  gint32 id;
  AddedToken *t;

  if (!content || !*content)
    return -1;
  if (g_hash_table_lookup_extended (wp->added_map, content, NULL, &v)) {
    const AddedToken *old = g_hash_table_lookup (wp->added_r, v);
    if (old && strcmp (old->content, content) == 0 && old->special == special && old->normalized == normalized
        && old->lstrip == lstrip && old->rstrip == rstrip && old->single_word == single_word)
      return GPOINTER_TO_INT (v);          /* the very same token: ignored */
    id = GPOINTER_TO_INT (v);
  } else if (!vocab_get (wp, content, &id)) {
    /* the next free id, as AddedVocabulary::add_tokens computes it */
    gint64 max = wp->max_added_id;
    if (max < 0)
      id = wp->n_vocab;
    else if (max >= (gint64) wp->n_vocab || wp->n_vocab == 0)
      id = (gint32) max + 1;
    else
      id = wp->n_vocab;
  }

  t = g_new0 (AddedToken, 1);
  t->content = g_strdup (content);
  t->special = special;
  t->normalized = normalized;
  t->lstrip = lstrip;
  t->rstrip = rstrip;
  t->single_word = single_word;
  if (normalized && wp->has_normalizer) {
    char *normed = normalize_string (wp, content);
    if (strcmp (normed, content) != 0)
      t->normed = normed;
    else
      g_free (normed);
  }
  g_hash_table_replace (wp->added_map, g_strdup (content), GINT_TO_POINTER (id));
  if (special && !g_hash_table_contains (wp->special_set, content))
    g_hash_table_add (wp->special_set, g_strdup (content));
  g_hash_table_replace (wp->added_r, GINT_TO_POINTER (id), t);
  wp->max_added_id = MAX (wp->max_added_id, id);
  if (!wp->loading)
    refresh_added_tokens (wp);
  return id;
}

gint32
vtp_wordpiece_add_token (VtpWordPiece *wp, const char *content, gboolean special)
{
  g_return_val_if_fail (wp != NULL, -1);
  return add_token_full (wp, content, special, !special, FALSE, FALSE, FALSE);
}

/* AddedVocabulary::find_matches on @s[0..n) */
static void
find_matches (const VtpWordPiece *wp, const Matcher *m, const char *s, gsize n, GArray *splits)
{
  gsize start_offset = 0, i = 0;
  Split sp;

  g_array_set_size (splits, 0);
  if (n == 0)
    return;
  if (m->n == 0) {
    sp.start = 0; sp.end = n; sp.id = -1;
    g_array_append_val (splits, sp);
    return;
  }
  while (i < n) {
    guchar b = (guchar) s[i];
    const Pattern *best = NULL;
    for (guint k = m->start[b]; k < m->start[b + 1]; k++) {
      const Pattern *p = &m->pats[k];
      if (p->len <= n - i && memcmp (s + i, p->pat, p->len) == 0) {
        best = p;
        break;
      }
    }
    if (!best) {
      i++;
      continue;
    }
    gsize start = i, stop = i + best->len;
    const AddedToken *t = g_hash_table_lookup (wp->added_r, GINT_TO_POINTER (best->id));
    i = stop;   /* the automaton goes on after this match, used or not */
    if (t->single_word) {
      gboolean start_space = start == 0 || !is_word_char (g_utf8_get_char (g_utf8_prev_char (s + start)));
      gboolean stop_space = stop == n || !is_word_char (g_utf8_get_char (s + stop));
      if (!start_space || !stop_space)
        continue;
    }
    if (t->lstrip) {
      gsize ns = start;
      while (ns > 0) {
        const char *p = g_utf8_prev_char (s + ns);
        if (!is_rust_ws (g_utf8_get_char (p)))
          break;
        ns = p - s;
      }
      start = MAX (ns, start_offset);
    }
    if (t->rstrip) {
      while (stop < n && is_rust_ws (g_utf8_get_char (s + stop)))
        stop += utf8_len ((guchar) s[stop]);
    }
    if (start_offset < start) {
      sp.start = start_offset; sp.end = start; sp.id = -1;
      g_array_append_val (splits, sp);
    }
    sp.start = start; sp.end = stop; sp.id = best->id;
    g_array_append_val (splits, sp);
    start_offset = stop;
  }
  if (start_offset != n) {
    sp.start = start_offset; sp.end = n; sp.id = -1;
    g_array_append_val (splits, sp);
  }
}

/* ------------------------------------------------------------------------ */
/* Pre-tokenizer and model */

typedef struct {
  GString *key;
  GString *norm;
  GArray *splits, *splits2;
} Scratch;

static gboolean
unk_id (const VtpWordPiece *wp, gint32 *id, GError **error)
{
  if (!vocab_get (wp, wp->unk_token, id)) {
    g_set_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_INPUT,
        "%s: model.unk_token \"%s\" is not in model.vocab, but the input needs it", wp->name, wp->unk_token);
    return FALSE;
  }
  return TRUE;
}

/* WordPiece::tokenize on one word; appends the ids to @out */
static gboolean
wordpiece_word (const VtpWordPiece *wp, Scratch *sc, const char *w, gsize n, GArray *out, GError **error)
{
  guint first = out->len;
  gsize start = 0;
  guint64 nchars = 0;
  gint32 id;

  for (gsize i = 0; i < n; i += utf8_len ((guchar) w[i]))
    nchars++;
  if (nchars > wp->max_chars)
    goto unk;
  while (start < n) {
    gsize end = n;
    gboolean found = FALSE;
    /* no vocab token is longer than max_token_len bytes */
    if (end - start > wp->max_token_len) {
      end = start + wp->max_token_len;
      while (end > start && ((guchar) w[end] & 0xC0) == 0x80)
        end--;
    }
    while (start < end) {
      g_string_truncate (sc->key, 0);
      if (start > 0)
        g_string_append_len (sc->key, wp->prefix, wp->prefix_len);
      g_string_append_len (sc->key, w + start, end - start);
      if (vocab_get (wp, sc->key->str, &id)) {
        found = TRUE;
        break;
      }
      end = g_utf8_prev_char (w + end) - w;
    }
    if (!found)
      goto unk;
    g_array_append_val (out, id);
    start = end;
  }
  return TRUE;

unk:
  g_array_set_size (out, first);
  if (!unk_id (wp, &id, error))
    return FALSE;
  g_array_append_val (out, id);
  return TRUE;
}

/* BertPreTokenizer, then the model, on one piece of normalized text */
static gboolean
pretokenize_and_model (const VtpWordPiece *wp, Scratch *sc, const char *s, gsize n, GArray *out, GError **error)
{
  gsize word = 0, i = 0;

  if (!wp->bert_pre)
    return n == 0 || wordpiece_word (wp, sc, s, n, out, error);
  while (i < n) {
    gsize l = utf8_len ((guchar) s[i]);
    gunichar c = l == 1 ? (guchar) s[i] : g_utf8_get_char (s + i);
    gboolean ws = is_rust_ws (c);
    if (ws || is_punct (c)) {
      if (i > word && !wordpiece_word (wp, sc, s + word, i - word, out, error))
        return FALSE;
      if (!ws && !wordpiece_word (wp, sc, s + i, l, out, error))
        return FALSE;
      word = i + l;
    }
    i += l;
  }
  if (n > word && !wordpiece_word (wp, sc, s + word, n - word, out, error))
    return FALSE;
  return TRUE;
}

/* A piece of the raw text between non-normalized added tokens */
static gboolean
encode_piece (const VtpWordPiece *wp, Scratch *sc, const char *s, gsize n, GArray *out, GError **error)
{
  g_string_truncate (sc->norm, 0);
  normalize_append (wp, s, n, sc->norm);
  find_matches (wp, &wp->norm_m, sc->norm->str, sc->norm->len, sc->splits2);
  for (guint k = 0; k < sc->splits2->len; k++) {
    Split sp = g_array_index (sc->splits2, Split, k);
    if (sp.id >= 0)
      g_array_append_val (out, sp.id);
    else if (!pretokenize_and_model (wp, sc, sc->norm->str + sp.start, sp.end - sp.start, out, error))
      return FALSE;
  }
  return TRUE;
}

static gboolean
check_text (VtpWordPiece *wp, const char *text, GError **error)
{
  gsize n, valid;
  if (!text) {
    g_set_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_INPUT, "%s: input text is NULL", wp->name);
    return FALSE;
  }
  n = strlen (text);
  valid = utf8_valid_prefix ((const guchar *) text, n);
  if (valid != n) {
    g_set_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_INPUT,
        "%s: input text is not valid UTF-8 (byte 0x%02X at offset %" G_GSIZE_FORMAT ")", wp->name,
        (guchar) text[valid], valid);
    return FALSE;
  }
  return TRUE;
}

GArray *
vtp_wordpiece_encode (VtpWordPiece *wp, const char *text, gboolean add_special, gint max_len, GError **error)
{
  GArray *body, *out;
  Scratch sc;
  gboolean ok = TRUE;
  gsize n;
  gint64 limit;
  gboolean left;

  g_return_val_if_fail (wp != NULL, NULL);
  if (!check_text (wp, text, error))
    return NULL;
  n = strlen (text);

  sc.key = g_string_new (NULL);
  sc.norm = g_string_new (NULL);
  sc.splits = g_array_new (FALSE, FALSE, sizeof (Split));
  sc.splits2 = g_array_new (FALSE, FALSE, sizeof (Split));
  body = g_array_new (FALSE, FALSE, sizeof (gint32));

  find_matches (wp, &wp->raw_m, text, n, sc.splits);
  for (guint k = 0; ok && k < sc.splits->len; k++) {
    Split sp = g_array_index (sc.splits, Split, k);
    if (sp.id >= 0)
      g_array_append_val (body, sp.id);
    else
      ok = encode_piece (wp, &sc, text + sp.start, sp.end - sp.start, body, error);
  }
  g_string_free (sc.key, TRUE);
  g_string_free (sc.norm, TRUE);
  g_array_free (sc.splits, TRUE);
  g_array_free (sc.splits2, TRUE);
  if (!ok) {
    g_array_free (body, TRUE);
    return NULL;
  }

  /* truncation, as TokenizerImpl::post_process: the limit less the specials
   * the post-processor adds (a limit below them wraps around in tokenizers'
   * unsigned arithmetic: no truncation) */
  left = wp->trunc_left;
  limit = max_len > 0 ? max_len : wp->trunc_max;
  if (limit > 0) {
    gint64 n_added = add_special && wp->tmpl ? wp->n_specials : 0;
    if (limit >= n_added && body->len > limit - n_added) {
      gint64 keep = limit - n_added;
      if (left)
        g_array_remove_range (body, 0, body->len - keep);
      else
        g_array_set_size (body, keep);
    }
  }

  if (!add_special || !wp->tmpl)
    return body;
  out = g_array_sized_new (FALSE, FALSE, sizeof (gint32), body->len + wp->tmpl->len);
  for (guint k = 0; k < wp->tmpl->len; k++) {
    gint32 v = g_array_index (wp->tmpl, gint32, k);
    if (v >= 0)
      g_array_append_val (out, v);
    else
      g_array_append_vals (out, body->data, body->len);
  }
  g_array_free (body, TRUE);
  return out;
}

char *
vtp_wordpiece_normalize (VtpWordPiece *wp, const char *text, GError **error)
{
  g_return_val_if_fail (wp != NULL, NULL);
  if (!check_text (wp, text, error))
    return NULL;
  return normalize_string (wp, text);
}

/* ------------------------------------------------------------------------ */
/* Lookups, decoding */

const char *
vtp_wordpiece_id_to_token (VtpWordPiece *wp, gint32 id)
{
  const AddedToken *t;
  g_return_val_if_fail (wp != NULL, NULL);
  if (id < 0)
    return NULL;
  t = g_hash_table_lookup (wp->added_r, GINT_TO_POINTER (id));
  if (t)
    return t->normed ? t->normed : t->content;
  return g_hash_table_lookup (wp->vocab_r, GINT_TO_POINTER (id));
}

gint32
vtp_wordpiece_token_to_id (VtpWordPiece *wp, const char *token)
{
  gpointer v;
  gint32 id;
  g_return_val_if_fail (wp != NULL, -1);
  if (!token)
    return -1;
  if (g_hash_table_lookup_extended (wp->added_map, token, NULL, &v))
    return GPOINTER_TO_INT (v);
  if (vocab_get (wp, token, &id))
    return id;
  return -1;
}

gsize
vtp_wordpiece_get_vocab_size (VtpWordPiece *wp)
{
  GHashTableIter it;
  gpointer k;
  gsize n;
  g_return_val_if_fail (wp != NULL, 0);
  n = wp->n_vocab;
  g_hash_table_iter_init (&it, wp->added_map);
  while (g_hash_table_iter_next (&it, &k, NULL))
    if (!g_hash_table_contains (wp->vocab, k))
      n++;
  return n;
}

gboolean
vtp_wordpiece_is_special (VtpWordPiece *wp, gint32 id)
{
  const char *s = vtp_wordpiece_id_to_token (wp, id);
  return s && g_hash_table_contains (wp->special_set, s);
}

void
vtp_wordpiece_set_truncation_side (VtpWordPiece *wp, gboolean left)
{
  g_return_if_fail (wp != NULL);
  wp->trunc_left = left;
}

gboolean
vtp_wordpiece_get_truncation_left (VtpWordPiece *wp)
{
  g_return_val_if_fail (wp != NULL, FALSE);
  return wp->trunc_left;
}

/* decoders::wordpiece::cleanup on one token, in place */
static void
cleanup_token (GString *t)
{
  static const char *const from[] = { " .", " ?", " !", " ,", " ' ", " n't", " 'm", " do not", " 's", " 've", " 're" };
  static const char *const to[] = { ".", "?", "!", ",", "'", "n't", "'m", " don't", "'s", "'ve", "'re" };
  for (guint r = 0; r < G_N_ELEMENTS (from); r++) {
    gsize fl = strlen (from[r]);
    if (t->len < fl || !strstr (t->str, from[r]))
      continue;
    GString *o = g_string_sized_new (t->len);
    for (gsize i = 0; i < t->len;) {
      if (i + fl <= t->len && memcmp (t->str + i, from[r], fl) == 0) {
        g_string_append (o, to[r]);
        i += fl;
      } else {
        g_string_append_c (o, t->str[i++]);
      }
    }
    g_string_assign (t, o->str);
    g_string_free (o, TRUE);
  }
}

char *
vtp_wordpiece_decode (VtpWordPiece *wp, const gint32 *ids, gsize n, gboolean skip_special, GError **error)
{
  GString *res, *t;
  guint k = 0;

  g_return_val_if_fail (wp != NULL, NULL);
  if (n > 0 && !ids) {
    g_set_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_INPUT, "%s: ids is NULL", wp->name);
    return NULL;
  }
  res = g_string_new (NULL);
  t = g_string_new (NULL);
  for (gsize i = 0; i < n; i++) {
    const char *s = vtp_wordpiece_id_to_token (wp, ids[i]);
    if (!s) {
      g_set_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_INPUT,
          "%s: cannot decode id %d (position %" G_GSIZE_FORMAT "): not in the vocabulary", wp->name, ids[i], i);
      g_string_free (t, TRUE);
      g_string_free (res, TRUE);
      return NULL;
    }
    if (skip_special && g_hash_table_contains (wp->special_set, s))
      continue;
    if (!wp->has_decoder) {
      if (k > 0)
        g_string_append_c (res, ' ');
      g_string_append (res, s);
    } else {
      g_string_truncate (t, 0);
      if (k == 0)
        g_string_append (t, s);
      else if (g_str_has_prefix (s, wp->dec_prefix))
        g_string_append (t, s + strlen (wp->dec_prefix));
      else {
        g_string_append_c (t, ' ');
        g_string_append (t, s);
      }
      if (wp->cleanup)
        cleanup_token (t);
      g_string_append_len (res, t->str, t->len);
    }
    k++;
  }
  g_string_free (t, TRUE);
  return g_string_free (res, FALSE);
}

/* ------------------------------------------------------------------------ */
/* Loading: tokenizer.json */

typedef struct {
  const char *name;
  GError **error;
} Ld;

static gboolean G_GNUC_PRINTF (3, 4)
fail (Ld *ld, gint code, const char *fmt, ...)
{
  va_list ap;
  char *msg;
  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (ld->error, VTP_WORDPIECE_ERROR, code, "%s: %s", ld->name, msg);
  g_free (msg);
  return FALSE;
}

/* "missing", "null", "an object", "\"text\"", "12", ... for error messages */
static char *
describe (JsonNode *n)
{
  if (!n)
    return g_strdup ("missing");
  switch (JSON_NODE_TYPE (n)) {
    case JSON_NODE_NULL:
      return g_strdup ("null");
    case JSON_NODE_OBJECT:
      return g_strdup ("an object");
    case JSON_NODE_ARRAY:
      return g_strdup ("an array");
    case JSON_NODE_VALUE:
      break;
  }
  switch (json_node_get_value_type (n)) {
    case G_TYPE_STRING: {
      const char *s = json_node_get_string (n);
      if (g_utf8_strlen (s, -1) > 40) {
        char buf[200];
        g_utf8_strncpy (buf, s, 40);
        return g_strdup_printf ("\"%s...\"", buf);
      }
      return g_strdup_printf ("\"%s\"", s);
    }
    case G_TYPE_INT64:
      return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (n));
    case G_TYPE_DOUBLE:
      return g_strdup_printf ("%g", json_node_get_double (n));
    case G_TYPE_BOOLEAN:
      return g_strdup (json_node_get_boolean (n) ? "true" : "false");
    default:
      return g_strdup ("a value");
  }
}

static gboolean
fail_type (Ld *ld, const char *path, JsonNode *n, const char *expected)
{
  char *d = describe (n);
  gboolean r = fail (ld, VTP_WORDPIECE_ERROR_PARSE, "%s is %s, expected %s", path, d, expected);
  g_free (d);
  return r;
}

static gboolean
is_null (JsonNode *n)
{
  return !n || JSON_NODE_HOLDS_NULL (n);
}

static gboolean
is_string (JsonNode *n)
{
  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING;
}

static gboolean
is_int (JsonNode *n)
{
  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_INT64;
}

/* A string member; absent or null gives @dflt (an error when @dflt is NULL
 * and !@nullable) */
static gboolean
get_str (Ld *ld, JsonObject *o, const char *path, const char *key, const char *dflt, gboolean nullable,
    const char **out)
{
  JsonNode *n = json_object_get_member (o, key);
  *out = dflt;
  if (is_null (n) && (dflt || nullable))
    return TRUE;
  if (!is_string (n)) {
    char *p = g_strdup_printf ("%s.%s", path, key);
    gboolean r = fail_type (ld, p, n, nullable ? "a string or null" : "a string");
    g_free (p);
    return r;
  }
  *out = json_node_get_string (n);
  return TRUE;
}

/* A bool member; absent or null gives @dflt */
static gboolean
get_bool (Ld *ld, JsonObject *o, const char *path, const char *key, gboolean dflt, gboolean *out)
{
  JsonNode *n = json_object_get_member (o, key);
  *out = dflt;
  if (is_null (n))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_BOOLEAN) {
    char *p = g_strdup_printf ("%s.%s", path, key);
    gboolean r = fail_type (ld, p, n, "true or false");
    g_free (p);
    return r;
  }
  *out = json_node_get_boolean (n);
  return TRUE;
}

/* A non-negative integer member; absent or null gives @dflt */
static gboolean
get_uint (Ld *ld, JsonObject *o, const char *path, const char *key, gint64 dflt, gint64 *out)
{
  JsonNode *n = json_object_get_member (o, key);
  *out = dflt;
  if (is_null (n))
    return TRUE;
  if (!is_int (n) || json_node_get_int (n) < 0) {
    char *p = g_strdup_printf ("%s.%s", path, key);
    gboolean r = fail_type (ld, p, n, "a non-negative integer");
    g_free (p);
    return r;
  }
  *out = json_node_get_int (n);
  return TRUE;
}

/* The "type" member of a component object */
static gboolean
get_type (Ld *ld, JsonNode *n, const char *path, JsonObject **obj, const char **type)
{
  if (!n || !JSON_NODE_HOLDS_OBJECT (n))
    return fail_type (ld, path, n, "an object");
  *obj = json_node_get_object (n);
  return get_str (ld, *obj, path, "type", NULL, FALSE, type);
}

static gboolean
parse_model (Ld *ld, VtpWordPiece *wp, JsonNode *n)
{
  JsonObject *o;
  JsonNode *vn;
  const char *type, *s;
  JsonObjectIter it;
  const char *key;
  JsonNode *val;
  gint64 max_chars;

  if (!n || !JSON_NODE_HOLDS_OBJECT (n))
    return fail_type (ld, "model", n, "an object");
  o = json_node_get_object (n);
  if (!get_str (ld, o, "model", "type", NULL, TRUE, &type))
    return FALSE;
  if (type && strcmp (type, "WordPiece") != 0)
    return fail (ld, VTP_WORDPIECE_ERROR_UNSUPPORTED, "model.type is \"%s\", expected \"WordPiece\"", type);
  if (!type && json_object_has_member (o, "merges"))
    return fail (ld, VTP_WORDPIECE_ERROR_UNSUPPORTED, "model has \"merges\" (a BPE model), expected a WordPiece "
        "model");
  if (!get_str (ld, o, "model", "unk_token", "[UNK]", FALSE, &s))
    return FALSE;
  wp->unk_token = g_strdup (s);
  if (!get_str (ld, o, "model", "continuing_subword_prefix", "##", FALSE, &s))
    return FALSE;
  wp->prefix = g_strdup (s);
  wp->prefix_len = strlen (s);
  if (!get_uint (ld, o, "model", "max_input_chars_per_word", 100, &max_chars))
    return FALSE;
  wp->max_chars = max_chars;

  vn = json_object_get_member (o, "vocab");
  if (!vn || !JSON_NODE_HOLDS_OBJECT (vn))
    return fail_type (ld, "model.vocab", vn, "an object {token: id}");
  json_object_iter_init (&it, json_node_get_object (vn));
  while (json_object_iter_next (&it, &key, &val)) {
    gint64 id;
    const char *other;
    if (!is_int (val) || (id = json_node_get_int (val)) < 0 || id >= G_MAXINT32) {
      char *d = describe (val);
      gboolean r = fail (ld, VTP_WORDPIECE_ERROR_PARSE, "model.vocab[\"%s\"] is %s, expected a token id", key, d);
      g_free (d);
      return r;
    }
    if ((other = g_hash_table_lookup (wp->vocab_r, GINT_TO_POINTER ((gint) id))))
      return fail (ld, VTP_WORDPIECE_ERROR_PARSE, "model.vocab: id %" G_GINT64_FORMAT
          " is given to both \"%s\" and \"%s\"", id, other, key);
    vocab_insert (wp, key, strlen (key), (gint32) id);
  }
  wp->n_vocab = g_hash_table_size (wp->vocab);
  return TRUE;
}

static gboolean
parse_normalizer (Ld *ld, VtpWordPiece *wp, JsonNode *n)
{
  JsonObject *o;
  const char *type;
  JsonNode *sa;
  if (!get_type (ld, n, "normalizer", &o, &type))
    return FALSE;
  if (strcmp (type, "Sequence") == 0) {
    /* a one-element Sequence [BertNormalizer] is the same thing */
    JsonNode *arr = json_object_get_member (o, "normalizers");
    if (!arr || !JSON_NODE_HOLDS_ARRAY (arr))
      return fail_type (ld, "normalizer.normalizers", arr, "an array");
    if (json_array_get_length (json_node_get_array (arr)) != 1)
      return fail (ld, VTP_WORDPIECE_ERROR_UNSUPPORTED, "normalizer is a Sequence of %u normalizers; only one "
          "BertNormalizer is supported", json_array_get_length (json_node_get_array (arr)));
    n = json_array_get_element (json_node_get_array (arr), 0);
    if (!get_type (ld, n, "normalizer.normalizers[0]", &o, &type))
      return FALSE;
  }
  if (strcmp (type, "BertNormalizer") != 0)
    return fail (ld, VTP_WORDPIECE_ERROR_UNSUPPORTED, "normalizer.type is \"%s\", expected \"BertNormalizer\" "
        "(or a null normalizer)", type);
  wp->has_normalizer = TRUE;
  if (!get_bool (ld, o, "normalizer", "clean_text", TRUE, &wp->clean_text)
      || !get_bool (ld, o, "normalizer", "handle_chinese_chars", TRUE, &wp->chinese)
      || !get_bool (ld, o, "normalizer", "lowercase", TRUE, &wp->lowercase))
    return FALSE;
  sa = json_object_get_member (o, "strip_accents");
  if (is_null (sa))
    wp->strip_accents = wp->lowercase;
  else if (!get_bool (ld, o, "normalizer", "strip_accents", FALSE, &wp->strip_accents))
    return FALSE;
  return TRUE;
}

static gboolean
parse_pre_tokenizer (Ld *ld, VtpWordPiece *wp, JsonNode *n)
{
  JsonObject *o;
  const char *type;
  if (!get_type (ld, n, "pre_tokenizer", &o, &type))
    return FALSE;
  if (strcmp (type, "BertPreTokenizer") != 0)
    return fail (ld, VTP_WORDPIECE_ERROR_UNSUPPORTED, "pre_tokenizer.type is \"%s\", expected \"BertPreTokenizer\" "
        "(or a null pre_tokenizer)", type);
  wp->bert_pre = TRUE;
  return TRUE;
}

/* BertProcessing's "cls" / "sep": ["[CLS]", 101] */
static gboolean
get_token_pair (Ld *ld, JsonObject *o, const char *key, gint32 *id)
{
  JsonNode *n = json_object_get_member (o, key);
  JsonArray *a = n && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
  char *p = g_strdup_printf ("post_processor.%s", key);
  gboolean ok = a && json_array_get_length (a) == 2 && is_string (json_array_get_element (a, 0))
      && is_int (json_array_get_element (a, 1)) && json_array_get_int_element (a, 1) >= 0
      && json_array_get_int_element (a, 1) <= G_MAXINT32;
  if (!ok)
    fail_type (ld, p, n, "a pair [\"token\", id]");
  else
    *id = (gint32) json_array_get_int_element (a, 1);
  g_free (p);
  return ok;
}

static gboolean
parse_template_piece (Ld *ld, VtpWordPiece *wp, JsonObject *specials, JsonNode *pn, const char *path)
{
  JsonObject *po = pn && JSON_NODE_HOLDS_OBJECT (pn) ? json_node_get_object (pn) : NULL;
  JsonNode *inner;
  const char *id;
  gboolean ok = FALSE;
  char *p2;

  if (!po || json_object_get_size (po) != 1)
    return fail_type (ld, path, pn, "{\"SpecialToken\": ...} or {\"Sequence\": ...}");
  if ((inner = json_object_get_member (po, "Sequence"))) {
    p2 = g_strdup_printf ("%s.Sequence", path);
    if (!JSON_NODE_HOLDS_OBJECT (inner))
      fail_type (ld, p2, inner, "an object");
    else if (get_str (ld, json_node_get_object (inner), p2, "id", NULL, FALSE, &id)) {
      if (g_ascii_strcasecmp (id, "A") != 0)
        fail (ld, VTP_WORDPIECE_ERROR_UNSUPPORTED, "%s.id is \"%s\", expected \"A\" in the single template", p2, id);
      else {
        gint32 m = -1;
        g_array_append_val (wp->tmpl, m);
        ok = TRUE;
      }
    }
    g_free (p2);
    return ok;
  }
  if (!(inner = json_object_get_member (po, "SpecialToken")))
    return fail_type (ld, path, pn, "{\"SpecialToken\": ...} or {\"Sequence\": ...}");
  p2 = g_strdup_printf ("%s.SpecialToken", path);
  if (!JSON_NODE_HOLDS_OBJECT (inner))
    fail_type (ld, p2, inner, "an object");
  else if (get_str (ld, json_node_get_object (inner), p2, "id", NULL, FALSE, &id)) {
    JsonNode *st = json_object_get_member (specials, id);
    JsonNode *ids = st && JSON_NODE_HOLDS_OBJECT (st) ? json_object_get_member (json_node_get_object (st), "ids") : NULL;
    if (!st)
      fail (ld, VTP_WORDPIECE_ERROR_PARSE, "%s.id is \"%s\", which post_processor.special_tokens lacks", p2, id);
    else if (!ids || !JSON_NODE_HOLDS_ARRAY (ids)) {
      char *p3 = g_strdup_printf ("post_processor.special_tokens[\"%s\"].ids", id);
      fail_type (ld, p3, ids, "an array of ids");
      g_free (p3);
    } else {
      JsonArray *ia = json_node_get_array (ids);
      ok = TRUE;
      for (guint k = 0; ok && k < json_array_get_length (ia); k++) {
        JsonNode *e = json_array_get_element (ia, k);
        if (!is_int (e) || json_node_get_int (e) < 0 || json_node_get_int (e) > G_MAXINT32) {
          char *p3 = g_strdup_printf ("post_processor.special_tokens[\"%s\"].ids[%u]", id, k);
          ok = fail_type (ld, p3, e, "a token id");
          g_free (p3);
        } else {
          gint32 v = (gint32) json_node_get_int (e);
          g_array_append_val (wp->tmpl, v);
          wp->n_specials++;
        }
      }
    }
  }
  g_free (p2);
  return ok;
}

static gboolean
parse_post_processor (Ld *ld, VtpWordPiece *wp, JsonNode *n)
{
  JsonObject *o;
  const char *type;
  if (!get_type (ld, n, "post_processor", &o, &type))
    return FALSE;
  wp->tmpl = g_array_new (FALSE, FALSE, sizeof (gint32));
  if (strcmp (type, "BertProcessing") == 0) {
    gint32 cls, sep, a = -1;
    if (!get_token_pair (ld, o, "cls", &cls) || !get_token_pair (ld, o, "sep", &sep))
      return FALSE;
    g_array_append_val (wp->tmpl, cls);
    g_array_append_val (wp->tmpl, a);
    g_array_append_val (wp->tmpl, sep);
    wp->n_specials = 2;
    return TRUE;
  }
  if (strcmp (type, "TemplateProcessing") == 0) {
    JsonNode *single = json_object_get_member (o, "single");
    JsonNode *sp = json_object_get_member (o, "special_tokens");
    JsonArray *a;
    if (!single || !JSON_NODE_HOLDS_ARRAY (single))
      return fail_type (ld, "post_processor.single", single, "an array of template pieces");
    if (!sp || !JSON_NODE_HOLDS_OBJECT (sp))
      return fail_type (ld, "post_processor.special_tokens", sp, "an object");
    a = json_node_get_array (single);
    for (guint i = 0; i < json_array_get_length (a); i++) {
      char *path = g_strdup_printf ("post_processor.single[%u]", i);
      gboolean ok = parse_template_piece (ld, wp, json_node_get_object (sp), json_array_get_element (a, i), path);
      g_free (path);
      if (!ok)
        return FALSE;
    }
    return TRUE;
  }
  return fail (ld, VTP_WORDPIECE_ERROR_UNSUPPORTED, "post_processor.type is \"%s\", expected \"TemplateProcessing\" "
      "or \"BertProcessing\" (or a null post_processor)", type);
}

static gboolean
parse_decoder (Ld *ld, VtpWordPiece *wp, JsonNode *n)
{
  JsonObject *o;
  const char *type, *prefix;
  if (!get_type (ld, n, "decoder", &o, &type))
    return FALSE;
  if (strcmp (type, "WordPiece") != 0)
    return fail (ld, VTP_WORDPIECE_ERROR_UNSUPPORTED, "decoder.type is \"%s\", expected \"WordPiece\" (or a null "
        "decoder)", type);
  if (!get_str (ld, o, "decoder", "prefix", "##", FALSE, &prefix) || !get_bool (ld, o, "decoder", "cleanup", TRUE,
          &wp->cleanup))
    return FALSE;
  wp->has_decoder = TRUE;
  wp->dec_prefix = g_strdup (prefix);
  return TRUE;
}

static gboolean
parse_truncation (Ld *ld, VtpWordPiece *wp, JsonNode *n)
{
  JsonObject *o;
  const char *dir;
  gint64 stride;
  if (!JSON_NODE_HOLDS_OBJECT (n))
    return fail_type (ld, "truncation", n, "null or an object");
  o = json_node_get_object (n);
  if (!is_int (json_object_get_member (o, "max_length")))
    return fail_type (ld, "truncation.max_length", json_object_get_member (o, "max_length"), "an integer");
  if (!get_uint (ld, o, "truncation", "max_length", 0, &wp->trunc_max)
      || !get_uint (ld, o, "truncation", "stride", 0, &stride)
      || !get_str (ld, o, "truncation", "direction", "Right", FALSE, &dir))
    return FALSE;
  if (stride != 0)
    return fail (ld, VTP_WORDPIECE_ERROR_UNSUPPORTED, "truncation.stride is %" G_GINT64_FORMAT ", only 0 is "
        "supported", stride);
  if (strcmp (dir, "Left") == 0)
    wp->trunc_left = TRUE;
  else if (strcmp (dir, "Right") != 0)
    return fail_type (ld, "truncation.direction", json_object_get_member (o, "direction"), "\"Left\" or \"Right\"");
  if (wp->trunc_max == 0)   /* tokenizers' max_length 0 keeps nothing; not worth a special case */
    return fail (ld, VTP_WORDPIECE_ERROR_UNSUPPORTED, "truncation.max_length is 0");
  return TRUE;
}

static gboolean
parse_padding (Ld *ld, JsonNode *n)
{
  JsonNode *s;
  if (!JSON_NODE_HOLDS_OBJECT (n))
    return fail_type (ld, "padding", n, "null or an object");
  s = json_object_get_member (json_node_get_object (n), "strategy");
  if (is_string (s) && strcmp (json_node_get_string (s), "BatchLongest") == 0)
    return TRUE;    /* pads a batch to its longest: nothing for one text */
  {
    char *d = describe (s);
    gboolean r = fail (ld, VTP_WORDPIECE_ERROR_UNSUPPORTED, "padding.strategy is %s; only null padding or "
        "\"BatchLongest\" is supported", d);
    g_free (d);
    return r;
  }
}

static gboolean
parse_added_tokens (Ld *ld, VtpWordPiece *wp, JsonNode *n)
{
  JsonArray *a;
  if (is_null (n))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (n))
    return fail_type (ld, "added_tokens", n, "an array");
  a = json_node_get_array (n);
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonNode *e = json_array_get_element (a, i);
    char *path = g_strdup_printf ("added_tokens[%u]", i);
    gboolean ok = FALSE;
    if (!e || !JSON_NODE_HOLDS_OBJECT (e)) {
      fail_type (ld, path, e, "an object");
    } else {
      JsonObject *o = json_node_get_object (e);
      const char *content;
      gboolean special, normalized, lstrip, rstrip, single_word;
      gint64 id;
      ok = get_str (ld, o, path, "content", NULL, FALSE, &content)
          && get_uint (ld, o, path, "id", 0, &id)
          && get_bool (ld, o, path, "special", FALSE, &special)
          && get_bool (ld, o, path, "normalized", !special, &normalized)
          && get_bool (ld, o, path, "lstrip", FALSE, &lstrip)
          && get_bool (ld, o, path, "rstrip", FALSE, &rstrip)
          && get_bool (ld, o, path, "single_word", FALSE, &single_word);
      /* as in tokenizers, the "id" is only a hint: ids come from add_tokens */
      if (ok)
        add_token_full (wp, content, special, normalized, lstrip, rstrip, single_word);
    }
    g_free (path);
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

VtpWordPiece *
vtp_wordpiece_new_from_data (const char *json, gssize len, const char *name_for_errors, GError **error)
{
  Ld ld = { name_for_errors ? name_for_errors : "tokenizer.json", error };
  JsonParser *parser;
  GError *perr = NULL;
  JsonNode *root, *n;
  JsonObject *top;
  VtpWordPiece *wp;
  const char *version;
  gboolean ok;

  g_return_val_if_fail (json != NULL, NULL);
  parser = json_parser_new_immutable ();
  if (!vtp_json_parser_load (parser, json, len, &perr)) {
    fail (&ld, VTP_WORDPIECE_ERROR_PARSE, "not valid JSON: %s", perr->message);
    g_error_free (perr);
    g_object_unref (parser);
    return NULL;
  }
  root = json_parser_get_root (parser);
  if (!JSON_NODE_HOLDS_OBJECT (root)) {
    fail_type (&ld, "the top level", root, "an object");
    g_object_unref (parser);
    return NULL;
  }
  top = json_node_get_object (root);

  wp = wp_alloc (ld.name);
  ok = get_str (&ld, top, "tokenizer", "version", NULL, TRUE, &version);
  if (ok && version && strcmp (version, "1.0") != 0)
    ok = fail (&ld, VTP_WORDPIECE_ERROR_UNSUPPORTED, "version is \"%s\", expected \"1.0\"", version);
  if (ok) {
    n = json_object_get_member (top, "model");
    ok = n ? parse_model (&ld, wp, n) : fail (&ld, VTP_WORDPIECE_ERROR_PARSE, "model is missing");
  }
  if (ok && !is_null (n = json_object_get_member (top, "normalizer")))
    ok = parse_normalizer (&ld, wp, n);
  if (ok && !is_null (n = json_object_get_member (top, "pre_tokenizer")))
    ok = parse_pre_tokenizer (&ld, wp, n);
  if (ok && !is_null (n = json_object_get_member (top, "post_processor")))
    ok = parse_post_processor (&ld, wp, n);
  if (ok && !is_null (n = json_object_get_member (top, "decoder")))
    ok = parse_decoder (&ld, wp, n);
  if (ok && !is_null (n = json_object_get_member (top, "truncation")))
    ok = parse_truncation (&ld, wp, n);
  if (ok && !is_null (n = json_object_get_member (top, "padding")))
    ok = parse_padding (&ld, n);
  if (ok) {
    wp->loading = TRUE;
    ok = parse_added_tokens (&ld, wp, json_object_get_member (top, "added_tokens"));
    wp->loading = FALSE;
    refresh_added_tokens (wp);
  }
  g_object_unref (parser);
  if (!ok) {
    vtp_wordpiece_free (wp);
    return NULL;
  }
  return wp;
}

VtpWordPiece *
vtp_wordpiece_new_from_file (const char *path, GError **error)
{
  char *data = NULL;
  gsize len = 0;
  GError *ferr = NULL;
  VtpWordPiece *wp;

  g_return_val_if_fail (path != NULL, NULL);
  if (!g_file_get_contents (path, &data, &len, &ferr)) {
    g_set_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_FILE, "%s: cannot read the tokenizer: %s", path,
        ferr->message);
    g_error_free (ferr);
    return NULL;
  }
  wp = vtp_wordpiece_new_from_data (data, len, path, error);
  g_free (data);
  return wp;
}

/* ------------------------------------------------------------------------ */
/* Loading: vocab.txt (BertTokenizer) */

typedef struct {
  gboolean lowercase;
  gint strip_accents;         /* -1: follow lowercase */
  gboolean chinese;
  const char *unk, *sep, *cls, *pad, *mask;
} VocabOpts;

static VtpWordPiece *
new_from_vocab_opts (const char *path, const VocabOpts *vo, GError **error)
{
  char *data = NULL;
  gsize len = 0, i = 0, line_start = 0;
  gint32 index = 0;
  GError *ferr = NULL;
  VtpWordPiece *wp;
  const char *specials[] = { vo->unk, vo->sep, vo->pad, vo->cls, vo->mask };
  gint32 cls, sep, a = -1;

  if (!g_file_get_contents (path, &data, &len, &ferr)) {
    g_set_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_FILE, "%s: cannot read the vocabulary: %s", path,
        ferr->message);
    g_error_free (ferr);
    return NULL;
  }
  if (utf8_valid_prefix ((const guchar *) data, len) != len || memchr (data, 0, len)) {
    gsize v = utf8_valid_prefix ((const guchar *) data, len);
    g_set_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_PARSE,
        "%s: not a vocab.txt: not valid UTF-8 text (offset %" G_GSIZE_FORMAT ")", path,
        v != len ? v : (gsize) ((char *) memchr (data, 0, len) - data));
    g_free (data);
    return NULL;
  }
  wp = wp_alloc (path);
  /* lines as Python's universal newlines split them: \n, \r\n or \r */
  while (i < len) {
    if (data[i] == '\n' || data[i] == '\r') {
      vocab_insert (wp, data + line_start, i - line_start, index++);
      if (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n')
        i++;
      line_start = ++i;
    } else {
      i++;
    }
  }
  if (line_start < len)
    vocab_insert (wp, data + line_start, len - line_start, index++);
  g_free (data);
  wp->n_vocab = g_hash_table_size (wp->vocab);
  if (wp->n_vocab == 0) {
    g_set_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_PARSE, "%s: the vocabulary is empty", path);
    vtp_wordpiece_free (wp);
    return NULL;
  }
  for (guint k = 0; k < 3; k++) {
    const char *need = k == 0 ? vo->unk : k == 1 ? vo->cls : vo->sep;
    gint32 dummy;
    if (!vocab_get (wp, need, &dummy)) {
      g_set_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_PARSE,
          "%s: the %s token \"%s\" is not in the vocabulary", path, k == 0 ? "unknown" : k == 1 ? "CLS" : "SEP", need);
      vtp_wordpiece_free (wp);
      return NULL;
    }
  }

  wp->unk_token = g_strdup (vo->unk);
  wp->prefix = g_strdup ("##");
  wp->prefix_len = 2;
  wp->has_normalizer = TRUE;
  wp->clean_text = TRUE;
  wp->chinese = vo->chinese;
  wp->lowercase = vo->lowercase;
  wp->strip_accents = vo->strip_accents < 0 ? vo->lowercase : vo->strip_accents != 0;
  wp->bert_pre = TRUE;
  vocab_get (wp, vo->cls, &cls);
  vocab_get (wp, vo->sep, &sep);
  wp->tmpl = g_array_new (FALSE, FALSE, sizeof (gint32));
  g_array_append_val (wp->tmpl, cls);
  g_array_append_val (wp->tmpl, a);
  g_array_append_val (wp->tmpl, sep);
  wp->n_specials = 2;
  wp->has_decoder = TRUE;
  wp->cleanup = TRUE;
  wp->dec_prefix = g_strdup ("##");
  wp->loading = TRUE;
  for (guint k = 0; k < G_N_ELEMENTS (specials); k++) {
    gint32 dummy;
    if (specials[k] && vocab_get (wp, specials[k], &dummy))
      add_token_full (wp, specials[k], TRUE, FALSE, FALSE, FALSE, FALSE);
  }
  wp->loading = FALSE;
  refresh_added_tokens (wp);
  return wp;
}

VtpWordPiece *
vtp_wordpiece_new_from_vocab (const char *vocab_txt, gboolean lowercase, gint strip_accents, GError **error)
{
  VocabOpts vo = { lowercase, strip_accents, TRUE, "[UNK]", "[SEP]", "[CLS]", "[PAD]", "[MASK]" };
  g_return_val_if_fail (vocab_txt != NULL, NULL);
  return new_from_vocab_opts (vocab_txt, &vo, error);
}

/* ------------------------------------------------------------------------ */
/* Loading: a transformers tokenizer folder */

/* A special-token entry of tokenizer_config.json: "[CLS]" or
 * {"content": "[CLS]", ...} (older files: {"__type": "AddedToken", ...}) */
static gboolean
config_token (Ld *ld, JsonObject *cfg, const char *key, const char **out)
{
  JsonNode *n = json_object_get_member (cfg, key);
  if (is_null (n))
    return TRUE;
  if (is_string (n)) {
    *out = json_node_get_string (n);
    return TRUE;
  }
  if (JSON_NODE_HOLDS_OBJECT (n)) {
    JsonNode *c = json_object_get_member (json_node_get_object (n), "content");
    if (is_string (c)) {
      *out = json_node_get_string (c);
      return TRUE;
    }
  }
  return fail_type (ld, key, n, "a token string or {\"content\": ...}");
}

static int
cmp_int64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

/* tokenizer_config.json's added_tokens_decoder, special token names and
 * truncation_side, applied to @wp as transformers does on loading */
static gboolean
apply_config (Ld *ld, VtpWordPiece *wp, JsonObject *cfg)
{
  static const char *const attrs[] = { "bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
    "cls_token", "mask_token" };
  JsonNode *n = json_object_get_member (cfg, "added_tokens_decoder");
  const char *side;

  if (!is_null (n)) {
    JsonObjectIter it;
    const char *key;
    JsonNode *val;
    GArray *ids;
    if (!JSON_NODE_HOLDS_OBJECT (n))
      return fail_type (ld, "added_tokens_decoder", n, "an object {id: token}");
    ids = g_array_new (FALSE, FALSE, sizeof (gint64));
    json_object_iter_init (&it, json_node_get_object (n));
    while (json_object_iter_next (&it, &key, &val)) {
      char *end;
      gint64 id = g_ascii_strtoll (key, &end, 10);
      if (!*key || *end || id < 0 || id > G_MAXINT32 || !JSON_NODE_HOLDS_OBJECT (val)) {
        char *p = g_strdup_printf ("added_tokens_decoder[\"%s\"]", key);
        fail_type (ld, p, val, "a token object under a numeric id");
        g_free (p);
        g_array_unref (ids);
        return FALSE;
      }
      g_array_append_val (ids, id);
    }
    g_array_sort (ids, cmp_int64);
    for (guint i = 0; i < ids->len; i++) {
      gint64 want = g_array_index (ids, gint64, i);
      char *p = g_strdup_printf ("added_tokens_decoder[\"%" G_GINT64_FORMAT "\"]", want);
      char key2[32];
      JsonObject *o;
      const char *content;
      gboolean special, normalized, lstrip, rstrip, single_word, ok;
      gint32 got;
      g_snprintf (key2, sizeof key2, "%" G_GINT64_FORMAT, want);
      o = json_object_get_object_member (json_node_get_object (n), key2);
      ok = o && get_str (ld, o, p, "content", NULL, FALSE, &content)
          && get_bool (ld, o, p, "special", FALSE, &special)
          && get_bool (ld, o, p, "normalized", !special, &normalized)
          && get_bool (ld, o, p, "lstrip", FALSE, &lstrip)
          && get_bool (ld, o, p, "rstrip", FALSE, &rstrip)
          && get_bool (ld, o, p, "single_word", FALSE, &single_word);
      if (!o)   /* a key written twice ("0" and "00"): json-glib keeps one */
        ok = fail (ld, VTP_WORDPIECE_ERROR_PARSE, "%s is repeated", p);
      if (ok && vtp_wordpiece_token_to_id (wp, content) < 0) {
        got = add_token_full (wp, content, special, normalized, lstrip, rstrip, single_word);
        if (got != want)
          ok = fail (ld, VTP_WORDPIECE_ERROR_PARSE, "%s: \"%s\" would get id %d, not %" G_GINT64_FORMAT, p,
              content, got, want);
      } else if (ok && vtp_wordpiece_token_to_id (wp, content) != want) {
        ok = fail (ld, VTP_WORDPIECE_ERROR_PARSE, "%s: \"%s\" has id %d in the vocabulary", p, content,
            vtp_wordpiece_token_to_id (wp, content));
      }
      g_free (p);
      if (!ok) {
        g_array_unref (ids);
        return FALSE;
      }
    }
    g_array_unref (ids);
  }
  /* named special tokens the tokenizer lacks are added (bos_token "[DEC]") */
  for (guint i = 0; i < G_N_ELEMENTS (attrs); i++) {
    const char *t = NULL;
    if (!config_token (ld, cfg, attrs[i], &t))
      return FALSE;
    if (t && vtp_wordpiece_token_to_id (wp, t) < 0)
      add_token_full (wp, t, TRUE, FALSE, FALSE, FALSE, FALSE);
  }
  n = json_object_get_member (cfg, "additional_special_tokens");
  if (!is_null (n)) {
    JsonArray *a;
    if (!JSON_NODE_HOLDS_ARRAY (n))
      return fail_type (ld, "additional_special_tokens", n, "an array");
    a = json_node_get_array (n);
    for (guint i = 0; i < json_array_get_length (a); i++) {
      JsonNode *e = json_array_get_element (a, i);
      const char *t = is_string (e) ? json_node_get_string (e) : NULL;
      if (!t && e && JSON_NODE_HOLDS_OBJECT (e) && is_string (json_object_get_member (json_node_get_object (e), "content")))
        t = json_object_get_string_member (json_node_get_object (e), "content");
      if (!t) {
        char *p = g_strdup_printf ("additional_special_tokens[%u]", i);
        fail_type (ld, p, e, "a token string or {\"content\": ...}");
        g_free (p);
        return FALSE;
      }
      if (vtp_wordpiece_token_to_id (wp, t) < 0)
        add_token_full (wp, t, TRUE, FALSE, FALSE, FALSE, FALSE);
    }
  }
  if (!get_str (ld, cfg, "tokenizer_config", "truncation_side", NULL, TRUE, &side))
    return FALSE;
  if (side && strcmp (side, "left") == 0)
    wp->trunc_left = TRUE;
  else if (side && strcmp (side, "right") == 0)
    wp->trunc_left = FALSE;
  else if (side)
    return fail_type (ld, "truncation_side", json_object_get_member (cfg, "truncation_side"),
        "\"left\" or \"right\"");
  return TRUE;
}

VtpWordPiece *
vtp_wordpiece_new_from_dir (const char *dir, GError **error)
{
  char *json_path, *cfg_path, *vocab_path;
  JsonParser *parser = NULL;
  JsonObject *cfg = NULL;
  VtpWordPiece *wp = NULL;

  g_return_val_if_fail (dir != NULL, NULL);
  json_path = g_build_filename (dir, "tokenizer.json", NULL);
  cfg_path = g_build_filename (dir, "tokenizer_config.json", NULL);
  vocab_path = g_build_filename (dir, "vocab.txt", NULL);

  if (g_file_test (cfg_path, G_FILE_TEST_EXISTS)) {
    GError *perr = NULL;
    JsonNode *root;
    parser = json_parser_new_immutable ();
    if (!vtp_json_parser_load_file (parser, cfg_path, &perr)) {
      gboolean io = perr->domain == G_FILE_ERROR;
      g_set_error (error, VTP_WORDPIECE_ERROR, io ? VTP_WORDPIECE_ERROR_FILE : VTP_WORDPIECE_ERROR_PARSE,
          "%s: %s: %s", cfg_path, io ? "cannot read it" : "not valid JSON", perr->message);
      g_error_free (perr);
      goto out;
    }
    root = json_parser_get_root (parser);
    if (!JSON_NODE_HOLDS_OBJECT (root)) {
      Ld ld = { cfg_path, error };
      fail_type (&ld, "the top level", root, "an object");
      goto out;
    }
    cfg = json_node_get_object (root);
  }

  if (g_file_test (json_path, G_FILE_TEST_EXISTS)) {
    wp = vtp_wordpiece_new_from_file (json_path, error);
  } else if (g_file_test (vocab_path, G_FILE_TEST_EXISTS)) {
    VocabOpts vo = { TRUE, -1, TRUE, "[UNK]", "[SEP]", "[CLS]", "[PAD]", "[MASK]" };
    if (cfg) {
      Ld ld = { cfg_path, error };
      JsonNode *sa = json_object_get_member (cfg, "strip_accents");
      gboolean b;
      if (!get_bool (&ld, cfg, "tokenizer_config", "do_lower_case", TRUE, &vo.lowercase)
          || !get_bool (&ld, cfg, "tokenizer_config", "tokenize_chinese_chars", TRUE, &vo.chinese)
          || (!is_null (sa) && !get_bool (&ld, cfg, "tokenizer_config", "strip_accents", FALSE, &b))
          || !config_token (&ld, cfg, "unk_token", &vo.unk) || !config_token (&ld, cfg, "sep_token", &vo.sep)
          || !config_token (&ld, cfg, "cls_token", &vo.cls) || !config_token (&ld, cfg, "pad_token", &vo.pad)
          || !config_token (&ld, cfg, "mask_token", &vo.mask))
        goto out;
      if (!is_null (sa))
        vo.strip_accents = b;
    }
    wp = new_from_vocab_opts (vocab_path, &vo, error);
  } else {
    g_set_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_FILE,
        "%s: no tokenizer.json and no vocab.txt in this folder", dir);
  }
  if (wp && cfg) {
    Ld ld = { cfg_path, error };
    if (!apply_config (&ld, wp, cfg))
      g_clear_pointer (&wp, vtp_wordpiece_free);
  }
out:
  if (parser)
    g_object_unref (parser);
  g_free (json_path);
  g_free (cfg_path);
  g_free (vocab_path);
  return wp;
}
