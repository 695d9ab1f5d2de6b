// The waiting page's countdown: shows the time left until the doors open, then reloads into the stream.
// The server gives the seconds left (data-seconds-left), so a wrong clock on this computer does not matter.
const box = document.getElementById("countdown");

function format(seconds) {
  const days = Math.floor(seconds / 86400);
  const pad = (n) => String(n).padStart(2, "0");
  const clock = `${pad(Math.floor((seconds % 86400) / 3600))}:${pad(Math.floor((seconds % 3600) / 60))}:${pad(seconds % 60)}`;
  return days > 0 ? `${days}d ${clock}` : clock;
}

if (box) {
  const clock = box.querySelector(".clock");
  const deadline = Date.now() + Number(box.dataset.secondsLeft || "0") * 1000;
  const tick = () => {
    const left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
    if (clock) clock.textContent = format(left);
    if (left <= 0) {
      window.location.reload();
      return;
    }
    window.setTimeout(tick, 1000);
  };
  tick();
}
