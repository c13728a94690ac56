// GET /docs: Swagger UI (npm's swagger-ui-dist, served from this server's disk) over the
// server's own /openapi.json. Nothing is fetched from elsewhere: no validator badge (it would
// call validator.swagger.io), and the page's Content-Security-Policy allows only this origin.
'use strict';
if (typeof window.SwaggerUIBundle !== 'function') {
  document.getElementById('missing').hidden = false;
} else {
  window.ui = window.SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    tryItOutEnabled: true,
    persistAuthorization: false,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    // This page is the server's own: "Try it out" calls it, whatever servers the document names.
    requestInterceptor: (req) => {
      const u = new URL(req.url, window.location.href);
      req.url = window.location.origin + u.pathname + u.search;
      return req;
    },
  });
}
