// Strings a client or a script chose are cut before they are logged or echoed
// back, so one request cannot write megabytes to the log or to a reply.

/** `text`, cut to `max` characters with a note of how much was cut. */
export function clip(text: string, max = 200): string {
  return text.length <= max ? text : `${text.slice(0, max)}… [${text.length - max} more characters]`;
}
