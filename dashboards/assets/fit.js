/* SatuPintu single window: lists that show only whole rows (`.fit`).
 *
 * A panel's list (alarms, feed) is cut by its panel on a fixed 1920x1080
 * screen. Rather than a last row cut in half, the rows that do not fit are
 * hidden, and the list's `.more` row (sent by the server with `data-extra`,
 * the alarms it left out itself) says how many are not shown (a row with
 * `data-alarms`, a situation's line, stands for that many alarms). Run whenever a
 * list's content changes and when the window is resized.
 */
(function () {
  "use strict";
  var queued = false;

  function fit(box) {
    var more = null, rows = [];
    Array.prototype.forEach.call(box.children, function (el) {
      if (el.classList.contains("more")) { more = el; } else { rows.push(el); el.style.display = ""; }
    });
    var extra = more ? parseInt(more.getAttribute("data-extra") || "0", 10) : 0;
    if (more) { more.hidden = extra <= 0; }
    var limit = box.getBoundingClientRect().top + box.clientHeight;
    var hidden = 0;
    for (var i = rows.length - 1; i >= 0; i--) {
      var last = more && !more.hidden ? more : rows[i];
      if (last.getBoundingClientRect().bottom <= limit + 0.5) break;
      // an unfolded situation (issue 17) taller than what is left is cut, not hidden: the operator opened it
      if (rows[i].tagName === "DETAILS" && rows[i].open && rows[i].getBoundingClientRect().top < limit) break;
      rows[i].style.display = "none";
      hidden += parseInt(rows[i].getAttribute("data-alarms") || "1", 10);  // a situation's line: its alarms
      // the count goes in at once: an empty `.more` measured above is shorter than the one finally shown
      if (more) { more.hidden = false; more.textContent = "+" + (hidden + extra); }
    }
    if (more) {
      var text = hidden + extra > 0 ? "+" + (hidden + extra) : "";
      if (more.textContent !== text) { more.textContent = text; }
    }
  }

  function fitAll() {
    queued = false;
    Array.prototype.forEach.call(document.querySelectorAll(".fit"), fit);
  }

  function queue() {
    if (!queued) { queued = true; window.requestAnimationFrame(fitAll); }
  }

  new MutationObserver(function (changes) {
    for (var i = 0; i < changes.length; i++) {
      var node = changes[i].target;
      var el = node.nodeType === 1 ? node : node.parentElement;
      if (!el || !el.closest) continue;
      if (el.closest(".fit")) { queue(); return; }
      // A page rendered anew (the routing callback): its lists are new.
      if (changes[i].type === "childList" && (el.id === "page" || el.id === "app-root")) { queue(); return; }
    }
  }).observe(document.documentElement, {childList: true, characterData: true, subtree: true});
  window.addEventListener("resize", queue);
  window.spFit = fitAll;
})();
