/* One stock: its stored prices as a candlestick chart. */
(function () {
  "use strict";
  const { config, t, fmt, api, errorMessage, showError } = window.PT;
  const symbol = config.symbol;

  async function show() {
    try {
      const bars = await api("GET", `/api/symbols/${encodeURIComponent(symbol.code)}/bars`);
      const ctx = { t: t, fmt: fmt, currency: symbol.currency, colors: config.colors };
      await window.PTCharts.priceChart(document.getElementById("price-chart"), ctx, bars, []);
    } catch (error) {
      showError(document.getElementById("chart-error"), errorMessage(error));
    }
  }
  show();
})();
