// Sizes and cuts of strings inside the isolate, so that limits are applied
// before anything is copied out. Runs after untrusted code: intrinsics only
// as captured at load time.
const ReflectApply = Reflect.apply;
const StringPrototypeCharCodeAt = String.prototype.charCodeAt;
const StringPrototypeSlice = String.prototype.slice;
const StringCtor = String;

/** `value` as a string, or `fallback` if it is undefined or will not become one (a hostile toString). */
export function text(value, fallback) {
  try {
    return value === undefined ? fallback : StringCtor(value);
  } catch {
    return fallback;
  }
}

/** The UTF-8 size of `text` in bytes (a lone surrogate counts as the 3 bytes of U+FFFD). */
export function utf8Length(text) {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = ReflectApply(StringPrototypeCharCodeAt, text, [i]);
    if (c >= 0x80) bytes += c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 1 : 2;
  }
  return bytes;
}

/** `text` cut to `max` characters, saying how many were cut. */
export function clip(text, max) {
  return text.length <= max ? text : `${ReflectApply(StringPrototypeSlice, text, [0, max])}… [${text.length - max} more characters]`;
}
