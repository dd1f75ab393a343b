/**
 * The part of markdown-it 14 that tree.ts uses (the package ships no types; 15 does, but its build
 * turns class fields into `_defineProperty` calls that make parsing ~3× slower, see tree.ts).
 */
declare module 'markdown-it' {
  namespace MarkdownIt {
    /** One token of the flat stream `parse` returns (block tokens; inline ones in `children`). */
    interface Token {
      type: string;
      tag: string;
      /** Block tokens: [first line, line after the last], 0-based. */
      map: [number, number] | null;
      /** 1 opens, -1 closes, 0 stands alone. */
      nesting: 1 | 0 | -1;
      level: number;
      content: string;
      markup: string;
      info: string;
      children: Token[] | null;
      hidden: boolean;
    }

    interface Options {
      html?: boolean;
      maxNesting?: number;
    }
  }

  class MarkdownIt {
    constructor(preset: 'commonmark' | 'default' | 'zero', options?: MarkdownIt.Options);
    readonly core: { ruler: { disable(rules: string | string[]): void } };
    /** The inline parser: `parse` appends the tokens of one inline token's content to `out`. */
    readonly inline: { parse(src: string, md: MarkdownIt, env: object, out: MarkdownIt.Token[]): void };
    parse(src: string, env: object): MarkdownIt.Token[];
    parseInline(src: string, env: object): MarkdownIt.Token[];
    validateLink: (url: string) => boolean;
    normalizeLinkText: (url: string) => string;
    normalizeLink: (url: string) => string;
  }

  export default MarkdownIt;
}
