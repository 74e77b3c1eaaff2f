/* plotly.js locale 'id' (Bahasa Indonesia), from the npm package plotly.js-locales 3.7.0 (id.js), MIT licence:
 * see plotly.js-locales-LICENSE.txt. Wrapped as plotly.js's own dist locale files are: plotly.js registers
 * window.PlotlyLocales when it loads (live.js loads it after this file), or now if it already has. */
(function () {
  "use strict";
  var module = {};

  module.exports = {
      moduleType: 'locale',
      name: 'id',
      dictionary: {},
      format: {
          days: ['Minggu', 'Senin', 'Selasa', 'Rabu', 'Kamis', 'Jumat', 'Sabtu'],
          shortDays: ['Min', 'Sen', 'Sel', 'Rab', 'kam', 'Jum', 'Sab'],
          months: [
              'Januari', 'Februari', 'Maret', 'April', 'Mei', 'Juni',
              'Juli', 'Agustus', 'September', 'Oktober', 'Nopember', 'Desember'
          ],
          shortMonths: [
              'Jan', 'Feb', 'Mar', 'Apr', 'Mei', 'Jun',
              'Jul', 'Agus', 'Sep', 'Okt', 'Nop', 'Des'
          ],
          date: '%d/%m/%Y'
      }
  };
  var locale = module.exports;
  // SatuPintu's addition: the package's 'id' names no separators, so plotly would write English 1,234.5;
  // Bahasa Indonesia writes 1.234,5 (as app/i18n's num.decimal and num.thousands do).
  locale.format.decimal = ",";
  locale.format.thousands = ".";
  if (window.Plotly && typeof window.Plotly.register === "function") {
    window.Plotly.register(locale);
  } else {
    window.PlotlyLocales = window.PlotlyLocales || [];
    window.PlotlyLocales.push(locale);
  }
})();
