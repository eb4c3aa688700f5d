/** Folds a multi-line text into one line: every error message the platform prints is one line. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
