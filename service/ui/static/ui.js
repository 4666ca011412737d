// Live metrics for /ui: polls /ui/api/stats (the numbers /metrics exports) and fills
// #live. No other script runs on these pages; everything else is server-rendered.
"use strict";
(function () {
  const box = document.getElementById("live");
  if (!box) return;
  let last = null;
  function put(name, text) {
    const el = box.querySelector("[data-k='" + name + "']");
    if (el) el.textContent = text;
  }
  function fmt(x, unit) {
    return x === null || x === undefined ? "n/a" : (Math.round(x * 1000) / 1000) + unit;
  }
  async function tick() {
    try {
      const r = await fetch("/ui/api/stats", { credentials: "same-origin" });
      if (!r.ok) throw new Error(String(r.status));
      const s = await r.json();
      const now = performance.now() / 1000;
      if (last) put("rate", fmt((s.items_total - last.items) / (now - last.t), " items/s"));
      last = { items: s.items_total, t: now };
      put("p50", fmt(s.latency_s.p50, " s"));
      put("p90", fmt(s.latency_s.p90, " s"));
      put("p99", fmt(s.latency_s.p99, " s"));
      put("inflight", String(s.inflight));
      put("waiting", String(s.waiting));
      put("total", String(s.items_total));
      box.dataset.state = "live";
    } catch (e) {
      box.dataset.state = "stale";
    }
  }
  tick();
  setInterval(tick, 2000);
})();
