// CPython-compatible paths (bottom layer): pathlib.PurePosixPath-style joining (study-fly64-dose-overlap.md §5): join with "/", collapse
// repeated separators, drop "." segments and trailing slashes, KEEP ".." (node's path.join and
// path.normalize resolve it, which can change the meaning across symlinks). Relative stays
// relative. Pure string functions.

/** Normalizes one path the way `str(PurePosixPath(p))` does. */
export function pyPath(p: string): string {
  if (p === "") return ".";
  // POSIX keeps exactly two leading slashes; one or three-plus collapse to one.
  let root = "";
  if (p.startsWith("/")) root = p.startsWith("//") && !p.startsWith("///") ? "//" : "/";
  const parts = p.split("/").filter((s) => s !== "" && s !== ".");
  const body = parts.join("/");
  if (root) return root + body;
  return body === "" ? "." : body;
}

/** `str(PurePosixPath(a) / b / ...)`: an absolute later part replaces what came before. */
export function pyJoin(...parts: string[]): string {
  let acc = "";
  for (const part of parts) {
    if (part.startsWith("/")) acc = part;
    else if (acc === "") acc = part;
    // A root "/" must not become "//" (POSIX's distinct double-slash root) by joining.
    else if (part !== "") acc = acc.endsWith("/") ? acc + part : acc + "/" + part;
  }
  return pyPath(acc);
}

/** `PurePosixPath(p).parent` as a string. */
export function pyParent(p: string): string {
  const n = pyPath(p);
  const i = n.lastIndexOf("/");
  if (i < 0) return ".";
  if (n === "/" || n === "//") return n;
  const head = n.slice(0, i);
  if (head === "" || head === "/") return n.startsWith("//") ? "//" : "/";
  return head;
}

/** `PurePosixPath(p).name`. */
export function pyName(p: string): string {
  const n = pyPath(p);
  if (n === "." || n === "/" || n === "//") return "";
  const i = n.lastIndexOf("/");
  return i < 0 ? n : n.slice(i + 1);
}
