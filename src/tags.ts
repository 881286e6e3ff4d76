/** True when two tag maps hold the same keys with the same values (order does not matter). */
export function sameTags(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>> | null): boolean {
  if (b === null) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && b[key] === a[key]);
}
