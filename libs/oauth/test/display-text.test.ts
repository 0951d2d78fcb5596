import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { displayTextProblem } from '../src/display-text.ts';

describe('displayTextProblem: names a person can read as written', () => {
  const refused: Array<[string, string, RegExp]> = [
    ['a right-to-left override', 'Evil\u202Egnp.exe', /bidirectional control character \(U\+202E\)/],
    ['a left-to-right embedding', 'a\u202Ab', /bidirectional.*U\+202A/],
    ['a first-strong isolate', 'a\u2068b\u2069', /bidirectional.*U\+2068/],
    ['a right-to-left mark', 'Agent\u200F', /bidirectional.*U\+200F/],
    ['an Arabic letter mark', 'a\u061Cb', /bidirectional.*U\+061C/],
    ['a zero-width space', 'Micro\u200Bsoft', /invisible character \(U\+200B\)/],
    ['a zero-width non-joiner', 'a\u200Cb', /invisible.*U\+200C/],
    ['a zero-width joiner', 'a\u200Db', /invisible.*U\+200D/],
    ['a word joiner', 'a\u2060b', /invisible.*U\+2060/],
    ['a byte order mark', '\uFEFFAgent', /invisible.*U\+FEFF/],
    ['a soft hyphen', 'Git\u00ADHub', /invisible.*U\+00AD/],
    ['a tag character', 'Agent\u{E0041}', /invisible.*U\+E0041/],
    ['a Hangul filler', 'Agent\u3164', /invisible.*U\+3164/],
    ['a combining grapheme joiner', 'a\u034Fb', /invisible.*U\+034F/],
    ['a C1 control', 'a\u0085b', /control character \(U\+0085\)/],
    ['a line separator', 'a\u2028b', /control.*U\+2028/],
    ['a NUL', 'a\u0000b', /control.*U\+0000/],
  ];
  for (const [name, text, expected] of refused) {
    test(`refused: ${name}`, () => assert.match(displayTextProblem(text) ?? 'accepted', expected));
  }

  test('letters of any script, accents, spaces, punctuation and emoji are fine', () => {
    for (const text of ['Claude Code', 'Visual Studio Code – Insiders', 'Café Agent', 'Ünïcödé', '日本語のエージェント', 'وكيل', 'עוזר', 'Агент', 'MCP Inspector (v0.16)', 'Agent 🤖', '❤️ Agent']) {
      assert.equal(displayTextProblem(text), null, text);
    }
  });
});
