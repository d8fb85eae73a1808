// Live updates without a framework: [data-refresh] elements reload their HTML every 5 s (the server reads the
// Runs table at most that often); #log[data-log] follows the run's log until the run has ended.
"use strict";
function refresh(element) {
  setInterval(async () => {
    const answer = await fetch(element.dataset.refresh);
    if (answer.ok) element.innerHTML = await answer.text();
  }, 5000);
}
async function followLog(element) {
  let offset = 0;
  for (;;) {
    const answer = await fetch(`${element.dataset.log}?offset=${offset}`);
    if (answer.ok) {
      const piece = await answer.json();
      element.append(piece.text);
      offset = piece.offset;
      if (piece.ended && !piece.text) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}
document.querySelectorAll("[data-refresh]").forEach(refresh);
document.querySelectorAll("#log[data-log]").forEach(followLog);
