/**
 * Folds a multi-line text into one line: every line break (CR or LF) or tab, with the blanks around
 * it, becomes one space, and the ends are trimmed. Every error message the platform prints is one line.
 */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n\t]\s*/g, ' ').trim();
}

/** A caught value as one line: an Error's message, or the value as text, folded by oneLine. */
export function errorLine(error: unknown): string {
  return oneLine(error instanceof Error ? error.message : String(error)) || 'error';
}
