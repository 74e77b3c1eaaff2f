/* SatuPintu single window: the live channel, freshness, clock and alarm sound.
 *
 * One WebSocket per browser to the API's push channel (/api/v1/live/ws). A
 * change notice does not carry data: it bumps the `live-tick` store (at most
 * twice a second), and the panels' callbacks re-read the server's shared
 * picture. No notice for two heartbeats, or a closed socket, shows the banner
 * and shortens the fallback poll until the channel is back.
 */
(function () {
  "use strict";
  // plotly.js (the 'basic' bundle) starts loading with the page, compiled while the
  // renderer boots and fetches the layout, instead of after the first graph mounts.
  // Until it has run, window.Plotly is a promise: dcc.Graph waits on it
  // (Promise.resolve(window.Plotly || load)) and never fetches the 4.8 MB full bundle,
  // unless the server names it (<meta name="sp-plotly">: map tiles are configured).
  if (!window.Plotly) {
    var pjs = document.createElement("script");
    var which = document.querySelector('meta[name="sp-plotly"]');
    pjs.src = (which && which.content) || "/assets/vendor/plotly-basic.min.js";
    pjs.async = true;
    window.Plotly = new Promise(function (resolve, reject) { pjs.onload = resolve; pjs.onerror = reject; });
    document.head.appendChild(pjs);
  }
  var MIN_TICK_MS = 400;
  var ws = null, lastMsg = 0, heartbeatMs = 15000, lostSince = null, backoff = 500;
  var tickTimer = null, lastTick = 0, seq = 0, pending = false;
  var sessionEl = null, soundOn = false, knownCritical = null, audioCtx = null;

  function setProps(id, props) {
    if (window.dash_clientside && window.dash_clientside.set_props) {
      try { window.dash_clientside.set_props(id, props); } catch (e) { /* not rendered yet */ }
    }
  }

  function tick(reason) {
    pending = true;
    if (tickTimer) return;
    var wait = Math.max(0, MIN_TICK_MS - (Date.now() - lastTick));
    tickTimer = setTimeout(function fire() {
      // A tick while the panels are still loading would cancel their answer for a newer
      // request: wait until they are in, so a busy minute still reaches the screen.
      if (document.querySelector(".page [data-dash-is-loading='true']") && Date.now() - lastTick < 10000) {
        tickTimer = setTimeout(fire, 100);
        return;
      }
      tickTimer = null;
      if (!pending) return;
      pending = false;
      lastTick = Date.now();
      seq += 1;
      window.spLastTick = {seq: seq, at: lastTick, reason: reason};
      setProps("live-tick", {data: {seq: seq, at: lastTick, reason: reason}});
    }, wait);
  }

  function linkState(up) {
    var banner = document.getElementById("conn-banner");
    if (up) {
      if (lostSince !== null) { lostSince = null; tick("reconnected"); }
      if (banner && banner.dataset.kind === "lost") { banner.className = "banner hidden"; banner.dataset.kind = ""; }
      setProps("poll", {interval: 15000});
    } else {
      if (lostSince === null) lostSince = Date.now();
      if (banner) {
        var tpl = banner.dataset.lost || "Live connection lost since {since}";
        banner.textContent = tpl.replace("{since}", fmtClock(lostSince));
        banner.className = "banner lost";
        banner.dataset.kind = "lost";
      }
      setProps("poll", {interval: 5000});
    }
    window.spLink = {up: up, since: lostSince};
  }

  function connect() {
    var root = document.getElementById("app-root");
    var city = (window.spSession && window.spSession.city) || "";
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    var url = proto + "//" + location.host + "/api/v1/live/ws" + (city ? "?city=" + encodeURIComponent(city) : "");
    try { ws = new WebSocket(url); } catch (e) { schedule(); return; }
    ws.onopen = function () { backoff = 500; };
    ws.onmessage = function (m) {
      lastMsg = Date.now();
      var ev;
      try { ev = JSON.parse(m.data); } catch (e) { return; }
      if (ev.type === "hello") {
        heartbeatMs = (ev.heartbeat_s || 15) * 1000;
        linkState(true);
        tick("hello");
      } else if (ev.type === "changes" || ev.type === "resync") {
        linkState(true);
        window.spLastNotice = {at: Date.now(), body: ev};
        tick(ev.type);
      } else if (ev.type === "heartbeat") {
        linkState(ev.live !== false);
      }
    };
    ws.onclose = function (e) {
      ws = null;
      if (e.code === 4401) { location.reload(); return; }  // the session ended: the page asks to sign in
      linkState(false);
      schedule();
    };
    ws.onerror = function () { /* onclose follows */ };
  }

  function schedule() {
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 15000);
  }

  // A silent socket is a dead one: two missed heartbeats and the banner shows.
  setInterval(function () {
    if (ws && lastMsg && Date.now() - lastMsg > 2 * heartbeatMs + 2000) {
      linkState(false);
      try { ws.close(); } catch (e) { /* already closing */ }
    }
  }, 2000);

  function lang() {
    var c = document.getElementById("clock");
    return (c && c.dataset.lang) || "id";
  }
  function tz() {
    var c = document.getElementById("clock");
    return (c && c.dataset.tz) || undefined;
  }
  function fmtClock(ms, seconds) {
    var opts = {hour: "2-digit", minute: "2-digit", hour12: false, timeZone: tz()};
    if (seconds) opts.second = "2-digit";
    try { return new Intl.DateTimeFormat(lang() === "en" ? "en-GB" : "id-ID", opts).format(new Date(ms)); }
    catch (e) { return new Date(ms).toISOString().slice(11, 16); }
  }

  // Freshness: each panel carries the instant its data was known current; too old greys it out.
  var stamps = {};
  window.spFresh = function (f) { if (f) { for (var k in f) { stamps[k] = f[k]; } } ageAll(); };
  function ageAll() {
    var s = window.spSession || {};
    var now = Date.now();
    for (var k in stamps) {
      var el = document.getElementById("panel-" + k);
      if (!el) continue;
      var asof = stamps[k] || 0;
      var max = parseInt(el.dataset.maxage || "60000", 10);
      var label = el.querySelector(".fresh");
      var stale = asof > 0 && now - asof > max;
      el.classList.toggle("stale", stale);
      if (label) {
        label.textContent = stale ? (s.stale || "Data delayed since {since}").replace("{since}", fmtClock(asof))
                                  : (asof ? "● " + (s.live || "live") + " " + fmtClock(asof, true) : "");
      }
    }
    var kpi = document.getElementById("kpi-tiles");
    if (kpi && stamps.kpi) kpi.classList.toggle("stale", now - stamps.kpi > 60000);
  }

  // The alarm sound: browsers play audio only after a click, hence the toggle.
  function beep() {
    if (!audioCtx) return;
    var t0 = audioCtx.currentTime;
    [0, 0.35, 0.7].forEach(function (d) {
      var o = audioCtx.createOscillator(), g = audioCtx.createGain();
      o.type = "square"; o.frequency.value = 880;
      g.gain.setValueAtTime(0.0001, t0 + d);
      g.gain.exponentialRampToValueAtTime(0.25, t0 + d + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, t0 + d + 0.25);
      o.connect(g); g.connect(audioCtx.destination);
      o.start(t0 + d); o.stop(t0 + d + 0.3);
    });
    window.spBeeps = (window.spBeeps || 0) + 1;
  }
  window.spCritical = function (ids) {
    var fresh = [];
    if (knownCritical !== null) {
      ids.forEach(function (i) { if (knownCritical.indexOf(i) < 0) fresh.push(i); });
    }
    knownCritical = ids.slice();
    if (fresh.length && soundOn) beep();
  };
  document.addEventListener("click", function (e) {
    var b = e.target && e.target.closest ? e.target.closest("#sound-toggle") : null;
    if (!b) return;
    soundOn = !soundOn;
    if (soundOn && !audioCtx) {
      var AC = window.AudioContext || window.webkitAudioContext;
      if (AC) audioCtx = new AC();
    }
    if (audioCtx && audioCtx.state === "suspended") audioCtx.resume();
    b.classList.toggle("on", soundOn);
    if (soundOn) beep();
  });

  // The clock, in the city's zone.
  setInterval(function () {
    var c = document.getElementById("clock");
    if (c) c.textContent = fmtClock(Date.now(), true) + " " + (c.dataset.tzlabel || "WIT");
    ageAll();
  }, 1000);

  // Start once the shell knows the session (the routing callback renders it).
  var boot = setInterval(function () {
    var c = document.getElementById("clock");
    if (!c) return;
    clearInterval(boot);
    window.spSession = {city: c.dataset.city, stale: c.dataset.stale, live: c.dataset.live};
    var banner = document.getElementById("conn-banner");
    if (banner) banner.dataset.lost = c.dataset.lost;
    connect();
  }, 200);
})();
