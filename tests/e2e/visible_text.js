/* Every piece of text a reader meets on the page, with where it is: the title, the
   visible text of the body (charts' SVG text included), and the title, placeholder,
   aria-label and alt attributes of visible elements, with buttons' values. Text
   marked as another language (an element or ancestor with lang other than the page's)
   or as code (code, kbd, samp) is left out: it is not meant to be translated.
   Returns [{text, where, element}]; the test finds the Latin words in it. */
() => {
  "use strict";
  const pageLanguage = document.documentElement.lang;
  const items = [];

  const describe = (node) => {
    const parts = [];
    let current = node;
    for (let depth = 0; current && current.nodeType === 1 && depth < 5; depth += 1) {
      let part = current.tagName.toLowerCase();
      if (current.id) {
        parts.unshift(part + "#" + current.id);
        break;
      }
      const name = typeof current.className === "string" ? current.className.trim().split(/\s+/)[0] : "";
      if (name) part += "." + name;
      parts.unshift(part);
      current = current.parentElement;
    }
    return parts.join(" > ");
  };

  const exempt = (element) => {
    if (element.closest("code, kbd, samp, script, style, noscript, template")) return true;
    const marked = element.closest("[lang]");
    return Boolean(marked && marked.getAttribute("lang") !== pageLanguage);
  };

  const shown = (element) => {
    const target = element.closest("select") || element.closest("svg") || element;
    if (target.closest("svg") && target !== element) {
      const style = getComputedStyle(element);
      if (style.display === "none" || style.visibility === "hidden") return false;
    }
    return target.checkVisibility({ visibilityProperty: true, opacityProperty: false });
  };

  items.push({ text: document.title, where: "title", element: "title" });
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || !node.textContent.trim() || exempt(parent) || !shown(parent)) continue;
    items.push({ text: node.textContent, where: parent.closest("svg") ? "chart" : "text", element: describe(parent) });
  }
  const attributes = ["title", "placeholder", "aria-label", "alt", "data-title"];
  const selector = attributes.map((name) => `[${name}]`).join(", ") + ", input[type=submit], input[type=button]";
  for (const element of document.body.querySelectorAll(selector)) {
    if (exempt(element) || !shown(element)) continue;
    for (const name of attributes) {
      if (element.hasAttribute(name)) items.push({ text: element.getAttribute(name), where: name, element: describe(element) });
    }
    if (["submit", "button"].includes(element.type) && element.tagName === "INPUT") {
      items.push({ text: element.value, where: "value", element: describe(element) });
    }
  }
  return items;
}
