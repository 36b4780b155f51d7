// Starts the API guide on /docs. A file of its own, as the content security policy allows no inline script.
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui" });
