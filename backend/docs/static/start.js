// Starts Swagger UI on /docs (a file, not an inline script: the page's CSP allows scripts from this app only).
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-url"),
    domNode: root,
    deepLinking: true,
    validatorUrl: null, // never send the document to swagger.io's validator: the page works offline
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    persistAuthorization: false // a token typed into Authorize is gone with the tab
  });
});
