/* The offline report: draw the result stored in the page (no server needed). */
(function () {
  "use strict";
  const read = (id) => JSON.parse(document.getElementById(id).textContent);
  const config = read("report-config");
  const ctx = { t: PTTranslator(config.messages, config.notices), fmt: PTFormat(config.locale), currency: config.currency, colors: config.colors };
  const doc = read("report-document");
  PTCharts.renderResult(document.getElementById("report-body"), ctx, doc, read("report-bars"), read("report-analysis")).catch(function () {
    const box = document.getElementById("report-error");
    box.textContent = ctx.t("error.unexpected");
    box.hidden = false;
  });
})();
