// A local stand-in for Ground Truth's crowd-html-elements.js: `tally preview --stand-in` inlines it, and the
// browser tests serve it in place of the real script (no network).
// Each crowd element parses its JSON attributes exactly as the real ones must (a bad one throws, which
// the test sees as a page error), records what it received in window.__crowd, and shows it.
(function () {
  "use strict";
  window.__crowd = [];
  const JSON_ATTRIBUTES = ["labels", "categories", "initial-value"];
  const TEXT_ELEMENTS = ["crowd-classifier", "crowd-classifier-multi-select"];

  class CrowdForm extends HTMLElement {
    connectedCallback() {
      if (this.querySelector("button.crowd-stub-submit")) return;
      const button = document.createElement("button");
      button.className = "crowd-stub-submit";
      button.type = "button";
      button.textContent = "Submit";
      this.appendChild(button);
    }
  }

  class CrowdStubElement extends HTMLElement {
    connectedCallback() {
      // wait for the children (classification-target, instructions) to be parsed: an element connects
      // when its opening tag is parsed, and a loaded machine's parser may yield before its children
      // (a timeout of 0 then read no classification-target); once the document is parsed, they are there
      if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", () => this.record(), { once: true });
      } else {
        setTimeout(() => this.record(), 0);
      }
    }
    record() {
      const received = { tag: this.localName, name: this.getAttribute("name") };
      for (const attr of JSON_ATTRIBUTES) {
        if (this.hasAttribute(attr)) received[attr] = JSON.parse(this.getAttribute(attr));
      }
      for (const attr of ["src", "header", "text"]) {
        if (this.hasAttribute(attr)) received[attr] = this.getAttribute(attr);
      }
      const target = this.querySelector("classification-target");
      if (TEXT_ELEMENTS.includes(this.localName)) received.target = target ? target.textContent : null;
      const box = document.createElement("div");
      box.className = "crowd-stub";
      box.style.cssText = "border:2px solid #1f77b4;padding:6px;font:14px sans-serif";
      const title = document.createElement("strong");
      title.textContent = `<${this.localName}> ${received.header || ""}`;
      box.appendChild(title);
      const options = received.labels || received.categories || [];
      const list = document.createElement("ul");
      for (const option of options) {
        const item = document.createElement("li");
        item.textContent = typeof option === "string" ? option : option.label;
        list.appendChild(item);
      }
      box.appendChild(list);
      const showText = received.text !== undefined ? received.text : received.target;
      if (showText !== undefined && showText !== null) {
        const text = document.createElement("p");
        text.textContent = showText;
        box.appendChild(text);
      }
      const images = [received.src, received["initial-value"] && received["initial-value"].src].filter(Boolean);
      const loads = images.map((src) => new Promise((resolve) => {
        const img = document.createElement("img");
        img.style.cssText = "max-width:180px;margin:2px;border:1px solid #999";
        img.onload = () => resolve({ src, width: img.naturalWidth, height: img.naturalHeight });
        img.onerror = () => resolve({ src, width: 0, height: 0 });
        img.src = src;
        box.appendChild(img);
      }));
      this.prepend(box);
      Promise.all(loads).then((loaded) => {
        received.images = loaded;
        window.__crowd.push(received);
      });
    }
  }

  customElements.define("crowd-form", CrowdForm);
  for (const tag of [
    "crowd-semantic-segmentation", "crowd-instance-segmentation", "crowd-bounding-box", "crowd-keypoint",
    "crowd-image-classifier", "crowd-image-classifier-multi-select", "crowd-classifier",
    "crowd-classifier-multi-select", "crowd-entity-annotation",
  ]) {
    customElements.define(tag, class extends CrowdStubElement {});
  }
})();
