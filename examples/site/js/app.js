// Shows when the page was fetched; a real site would do more.
document.addEventListener("DOMContentLoaded", function () {
  var el = document.querySelector("[data-deploy]");
  if (el) {
    el.textContent = new Date().toISOString();
  }
});
