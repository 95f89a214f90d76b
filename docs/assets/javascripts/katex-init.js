// Render the math that pymdownx.arithmatex marked (elements of class "arithmatex", holding
// \( ... \) or \[ ... \]) with the KaTeX copy in docs/assets/katex: no CDN. Only those
// elements are touched, so a dollar sign in prose or code stays as written. Material's
// instant navigation swaps pages without reloading, hence document$.
function renderMath() {
  for (const element of document.querySelectorAll(".arithmatex")) {
    renderMathInElement(element, {
      delimiters: [
        { left: "\\(", right: "\\)", display: false },
        { left: "\\[", right: "\\]", display: true },
      ],
      throwOnError: false,
    });
  }
}

if (typeof document$ !== "undefined") {
  document$.subscribe(renderMath);
} else {
  document.addEventListener("DOMContentLoaded", renderMath);
}
