// "Select all" checkbox: ticks every checkbox named by its data-select-all attribute in the same form.
for (const box of document.querySelectorAll("input[data-select-all]")) {
  const name = box.dataset.selectAll;
  box.addEventListener("change", () => {
    for (const item of box.form.querySelectorAll(`input[type=checkbox][name="${name}"]`)) item.checked = box.checked;
  });
}
