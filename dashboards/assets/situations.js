/* SatuPintu alarm panel: a situation (or the flood's hidden list) an operator unfolded stays unfolded.
 *
 * The panel is rendered anew on every alarm change; a <details> comes back folded. This keeps the ids the
 * operator opened and opens them again after each render, and fits the list (assets/fit.js) whenever one
 * is folded or unfolded (a toggle is no change to the DOM's children that fit.js would see).
 */
(function () {
  "use strict";
  var opened = {};

  document.addEventListener("toggle", function (ev) {
    var el = ev.target;
    if (!el || !el.id || !el.closest || !el.closest("#alarm-list")) return;
    if (el.open) { opened[el.id] = true; } else { delete opened[el.id]; }
    if (window.spFit) { window.requestAnimationFrame(window.spFit); }
  }, true);

  new MutationObserver(function () {
    Object.keys(opened).forEach(function (id) {
      var el = document.getElementById(id);
      if (el && el.tagName === "DETAILS" && !el.open) { el.open = true; }
    });
  }).observe(document.documentElement, {childList: true, subtree: true});
})();
