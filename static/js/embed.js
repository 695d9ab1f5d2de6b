// The embedded registration form (SPEC §14, docs/api.md "Embed the form"): tell the page that frames it how tall the
// form is, so that its optional snippet can size the iframe. Only a number leaves the frame, nothing typed in it.
if (window.parent !== window) {
  const tell = () => window.parent.postMessage({ webinarEmbedHeight: document.documentElement.scrollHeight }, "*");
  new ResizeObserver(tell).observe(document.body);
  tell();
}
