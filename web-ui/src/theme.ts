// Dark theme follows the system: PatternFly 6 switches its tokens with a class on <html>.
const DARK_CLASS = "pf-v6-theme-dark";

export function followSystemTheme(win: Window = window): () => void {
  if (typeof win.matchMedia !== "function") return () => undefined;
  const query = win.matchMedia("(prefers-color-scheme: dark)");
  const apply = () => win.document.documentElement.classList.toggle(DARK_CLASS, query.matches);
  apply();
  query.addEventListener?.("change", apply);
  return () => query.removeEventListener?.("change", apply);
}
