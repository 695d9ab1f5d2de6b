// The embedded registration form (SPEC §14, docs/api.md "Embed the form"): tell the page that frames it how tall the
// form is, so that its optional snippet can size the iframe. Only a number leaves the frame, nothing typed in it.
if (window.parent !== window) {
  // The body's own height: the document's is never less than the frame's, so it could not shrink the frame.
  const height = () => Math.ceil(document.body.getBoundingClientRect().height);
  const tell = () => window.parent.postMessage({ webinarEmbedHeight: height() }, "*");
  new ResizeObserver(tell).observe(document.body);
  tell();
}
