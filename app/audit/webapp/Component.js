sap.ui.define(["sap/fe/core/AppComponent"], function (AppComponent) {
  "use strict";

  return AppComponent.extend("surveybridge.audit.Component", {
    metadata: { manifest: "json" }
  });
});
