/**
 * Whether `text` holds a C0 control character or DEL: what cannot be stored (NUL), shown, or
 * trusted in a URL (the URL parser drops tabs and line breaks silently).
 */
export function hasControlCharacter(text: string): boolean {
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}
