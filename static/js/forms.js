// Every page: after a submit the server refused, the focus goes to the error summary (not to <body>), so a screen
// reader announces what to correct and the keyboard starts from there; its links lead to each field.
const summary = document.querySelector(".error-summary");
if (summary) {
  if (!summary.hasAttribute("tabindex")) summary.setAttribute("tabindex", "-1");
  summary.focus();
}
