// The page's two CodeMirror 6 editors: the script (JavaScript or TypeScript,
// with the line an error points at highlighted) and the globals (JSON).
import { javascript } from '@codemirror/lang-javascript';
import { json } from '@codemirror/lang-json';
import { Compartment, type Extension, StateEffect, StateField } from '@codemirror/state';
import { Decoration, type DecorationSet, EditorView } from '@codemirror/view';
import { basicSetup } from 'codemirror';

/** Sets (a 1-based line number) or clears (null) the highlighted error line. */
const markLine = StateEffect.define<number | null>();
const errorLineDecoration = Decoration.line({ class: 'cm-error-line' });

const errorLine = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(marks, transaction) {
    for (const effect of transaction.effects) {
      if (!effect.is(markLine)) continue;
      if (effect.value === null) return Decoration.none;
      return Decoration.set([errorLineDecoration.range(transaction.state.doc.line(effect.value).from)]);
    }
    // An edit makes the error's line number stale.
    return transaction.docChanged ? Decoration.none : marks;
  },
  provide: (field) => EditorView.decorations.from(field),
});

/** The nonce the daemon put on the page's stylesheet link: the Content-Security-Policy allows <style> elements only with it. */
function styleNonce(): string {
  return (document.getElementById('style') as HTMLLinkElement | null)?.nonce ?? '';
}

/**
 * What both editors share: the basic setup, long lines wrapped (a horizontal
 * scrollbar would hide the end of a line, and on a short editor the line under
 * it), a label for screen readers, a change listener.
 */
function editor(parent: HTMLElement, doc: string, labelId: string, onChange: () => void, extensions: Extension[]): EditorView {
  return new EditorView({
    parent,
    doc,
    extensions: [
      basicSetup,
      EditorView.lineWrapping,
      EditorView.cspNonce.of(styleNonce()),
      EditorView.contentAttributes.of({ 'aria-labelledby': labelId }),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) onChange();
      }),
      ...extensions,
    ],
  });
}

export class ScriptEditor {
  readonly view: EditorView;
  private readonly language = new Compartment();

  constructor(parent: HTMLElement, doc: string, labelId: string, typescript: boolean, onChange: () => void) {
    this.view = editor(parent, doc, labelId, onChange, [this.language.of(javascript({ typescript })), errorLine]);
  }

  get text(): string {
    return this.view.state.doc.toString();
  }

  setTypeScript(typescript: boolean): void {
    this.view.dispatch({ effects: this.language.reconfigure(javascript({ typescript })) });
  }

  /** Highlights `line` (1-based; past the end: the last line) and scrolls it into view; undefined clears it. */
  markError(line: number | undefined): void {
    if (line === undefined) {
      this.view.dispatch({ effects: markLine.of(null) });
      return;
    }
    const { doc } = this.view.state;
    const at = doc.line(Math.min(Math.max(line, 1), doc.lines));
    this.view.dispatch({ effects: [markLine.of(at.number), EditorView.scrollIntoView(at.from, { y: 'center' })] });
  }
}

export function jsonEditor(parent: HTMLElement, doc: string, labelId: string, onChange: () => void): EditorView {
  return editor(parent, doc, labelId, onChange, [json()]);
}
