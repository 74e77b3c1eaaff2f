/* SatuPintu single window, Smart Province: which city a window's callbacks are about.
 *
 * One web process serves every city of its deployment, one window per city,
 * chosen by the page's `?city=ID`. Dash's own requests (the callbacks and the
 * first layout) carry that city in the `X-SatuPintu-City` header, read from the
 * address at the time of the request, so the server answers each window about
 * its own city (dashboards.guard). Without `?city=` nothing is added: the
 * server takes the user's own city, else the home city.
 */
(function () {
  "use strict";
  var DASH_PATH = /^\/_dash-(update-component|layout|dependencies)$/;
  var origFetch = window.fetch;
  if (!origFetch) return;

  function pageCity() {
    var m = /[?&]city=([^&#]*)/.exec(location.search);
    return m ? decodeURIComponent(m[1]) : "";
  }

  window.fetch = function (input, init) {
    try {
      var city = pageCity();
      var url = new URL(typeof input === "string" ? input : (input && input.url) || "", location.href);
      if (city && url.origin === location.origin && DASH_PATH.test(url.pathname)) {
        init = Object.assign({}, init || {});
        var headers = new Headers(init.headers || (typeof input !== "string" && input.headers) || {});
        headers.set("X-SatuPintu-City", city);
        init.headers = headers;
      }
    } catch (e) { /* a request we cannot read is passed on as it is */ }
    return origFetch.call(this, input, init);
  };
})();

/* The province view: a click anywhere on a regency's row opens its own window (as its name's link does). */
document.addEventListener("click", function (e) {
  var row = e.target && e.target.closest ? e.target.closest(".prov-row[data-city]") : null;
  if (!row || (e.target.closest && e.target.closest("a"))) return;
  window.location.assign("/?city=" + encodeURIComponent(row.getAttribute("data-city")));
});
