/* The layout audit of one page, run in the browser by test_browser_every_page.py.

   Returns what is wrong with the page as drawn now (empty lists when nothing is):
   - overflow: how far the page scrolls sideways (document.scrollingElement);
   - overlaps: pairs of key elements drawn over each other: visible interactive elements,
     labels, table heading cells, and the charts' legends, range buttons and toolbar
     buttons (the toolbar counts even while faded out: hovering or a tap shows it).
     An element never overlaps its own ancestor or descendant; every box is first cut
     to what its scrolling ancestors show;
   - hiddenFigures: figures (metric cards, numeric cells) not wholly inside the
     viewport's width or cut by a scrolling box;
   - brokenWords: Korean words (runs of Hangul syllables) split across two lines in
     headings, labels and buttons;
   - tallFields: stacked form fields taller than their content (blank space under them;
     fields side by side in a row may be as tall as their tallest neighbour);
   - smallHeatmapText: heatmap cell numbers drawn below 10 px;
   and counts (figures, fields) so a test knows the checks had something to check. */
() => {
  const width = window.innerWidth;
  const KEY = [
    "a[href]", "button", "input:not([type=hidden])", "select", "textarea", "summary", "label",
    "[role=button]", "th", ".js-plotly-plot .legend", ".js-plotly-plot .rangeselector .button",
    ".js-plotly-plot .modebar-btn",
  ].join(", ");
  const FIGURES = "[data-metric] dd, td.num, #compare-table td";
  const HANGUL_WORD = /[\uac00-\ud7a3]+/g;

  function shown(node) {
    if (node.closest(".sr-only, .skip")) return false;
    if (!node.checkVisibility({ visibilityProperty: true })) return false;
    const box = node.getBoundingClientRect();
    return box.width > 1 && box.height > 1;
  }

  /* The part of a box its scrolling (or clipping) ancestors leave in view. */
  function visiblePart(node, box) {
    const part = { left: box.left, top: box.top, right: box.right, bottom: box.bottom };
    for (let up = node.parentElement; up && up !== document.body; up = up.parentElement) {
      const style = getComputedStyle(up);
      if (style.overflowX === "visible" && style.overflowY === "visible") continue;
      const frame = up.getBoundingClientRect();
      if (style.overflowX !== "visible") {
        part.left = Math.max(part.left, frame.left);
        part.right = Math.min(part.right, frame.right);
      }
      if (style.overflowY !== "visible") {
        part.top = Math.max(part.top, frame.top);
        part.bottom = Math.min(part.bottom, frame.bottom);
      }
    }
    return part;
  }

  function describe(node) {
    const classes = typeof node.className === "string" ? node.className : (node.className && node.className.baseVal) || "";
    const name = node.tagName.toLowerCase() + (node.id ? "#" + node.id : "") +
      (classes.trim() ? "." + classes.trim().split(/\s+/).join(".") : "");
    return `${name} "${(node.textContent || node.value || "").trim().replace(/\s+/g, " ").slice(0, 40)}"`;
  }

  const boxes = [];
  for (const node of document.querySelectorAll(KEY)) {
    if (!shown(node)) continue;
    const rects = node instanceof SVGElement ? [node.getBoundingClientRect()] : Array.from(node.getClientRects());
    for (const rect of rects) {
      const part = visiblePart(node, rect);
      if (part.right - part.left > 1 && part.bottom - part.top > 1) boxes.push({ node, part });
    }
  }
  const overlaps = new Set();
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i];
      const b = boxes[j];
      if (a.node === b.node || a.node.contains(b.node) || b.node.contains(a.node)) continue;
      if (a.node.tagName === "LABEL" && a.node.control === b.node) continue;
      if (b.node.tagName === "LABEL" && b.node.control === a.node) continue;
      const across = Math.min(a.part.right, b.part.right) - Math.max(a.part.left, b.part.left);
      const down = Math.min(a.part.bottom, b.part.bottom) - Math.max(a.part.top, b.part.top);
      if (across > 2 && down > 2) overlaps.add(`${describe(a.node)} over ${describe(b.node)}`);
    }
  }

  const hiddenFigures = [];
  let figures = 0;
  for (const node of document.querySelectorAll(FIGURES)) {
    if (!shown(node) || !node.textContent.trim()) continue;
    figures += 1;
    const box = node.getBoundingClientRect();
    const part = visiblePart(node, box);
    if (box.left < -0.5 || box.right > width + 0.5 || part.right - part.left < box.width - 1) {
      hiddenFigures.push(`${describe(node)} at ${Math.round(box.left)}-${Math.round(box.right)} px`);
    }
  }

  const brokenWords = [];
  if (document.documentElement.lang === "ko") {
    for (const holder of document.querySelectorAll("th, dt, label, legend, button, summary, h1, h2, h3, caption")) {
      if (!shown(holder)) continue;
      const walker = document.createTreeWalker(holder, NodeFilter.SHOW_TEXT);
      for (let text = walker.nextNode(); text; text = walker.nextNode()) {
        HANGUL_WORD.lastIndex = 0;
        for (let match = HANGUL_WORD.exec(text.data); match; match = HANGUL_WORD.exec(text.data)) {
          if (match[0].length < 2) continue;
          const range = document.createRange();
          range.setStart(text, match.index);
          range.setEnd(text, match.index + match[0].length);
          const lines = new Set(Array.from(range.getClientRects()).filter((r) => r.width > 0).map((r) => Math.round(r.top)));
          if (lines.size > 1) brokenWords.push(`"${match[0]}" in ${describe(holder)}`);
        }
      }
    }
  }

  const tallFields = [];
  let fields = 0;
  for (const field of document.querySelectorAll(".field")) {
    if (!shown(field)) continue;
    const parts = Array.from(field.children).filter(shown);
    if (!parts.length) continue;
    fields += 1;
    const around = getComputedStyle(field.parentElement);
    const sideBySide = (around.display.includes("flex") && around.flexDirection.startsWith("row")) || around.display.includes("grid");
    if (sideBySide && field.parentElement.children.length > 1) continue;
    const bottom = Math.max(...parts.map((part) => part.getBoundingClientRect().bottom + parseFloat(getComputedStyle(part).marginBottom || "0")));
    const blank = field.getBoundingClientRect().bottom - bottom;
    if (blank > 8) tallFields.push(`${describe(field)}: ${Math.round(blank)} px blank`);
  }

  const smallHeatmapText = [];
  for (const text of document.querySelectorAll(".js-plotly-plot .heatmaplayer text")) {
    if (!text.textContent.trim()) continue;
    const size = parseFloat(getComputedStyle(text).fontSize);
    if (size < 10) smallHeatmapText.push(`"${text.textContent}" at ${size} px`);
  }

  const icon = document.querySelector("link[rel=icon]");
  return {
    overflow: document.scrollingElement.scrollWidth - width,
    overlaps: Array.from(overlaps),
    hiddenFigures: hiddenFigures,
    brokenWords: brokenWords,
    tallFields: tallFields,
    smallHeatmapText: smallHeatmapText.slice(0, 10),
    figures: figures,
    fields: fields,
    icon: icon ? icon.getAttribute("href") : null,
  };
}
