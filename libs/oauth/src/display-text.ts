/**
 * What makes a name unfit to be shown to a person deciding whom to trust (a client's name on the sign-in and
 * consent pages, in the admin console): characters that show as nothing, or that reorder the text around them.
 * "Evil\u202Egnp.exe" reads as "Evilexe.png"; "Micro\u200Bsoft" looks like "Microsoft" but is another name.
 */
const PROBLEMS: ReadonlyArray<[RegExp, string]> = [
  // C0 and C1 controls, and the line and paragraph separators.
  [/[\p{Cc}\u2028\u2029]/u, 'a control character'],
  // Embeddings, overrides, isolates and the directional marks.
  [/[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u, 'a bidirectional control character'],
  // Every other format character (zero-width space, joiners, word joiner, byte order mark, soft hyphen, tags),
  // the combining grapheme joiner, and the Hangul fillers, which are letters that show as blank.
  [/[\p{Cf}\u034F\u115F\u1160\u3164\uFFA0]/u, 'an invisible character'],
];

/**
 * Why `text` cannot be shown as a name ("a bidirectional control character (U+202E)"), or null if it can.
 * Shared by every way a client names itself: RFC 7591 registration, and Client ID Metadata Documents.
 */
export function displayTextProblem(text: string): string | null {
  for (const [pattern, what] of PROBLEMS) {
    const found = pattern.exec(text);
    if (found) return `${what} (U+${found[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')})`;
  }
  return null;
}
