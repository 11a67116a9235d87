/**
 * Toolbar actions that switch between the two list reports of the app. The app runs without a
 * Fiori launchpad, so these routes are its only navigation between invitations and campaigns.
 */
sap.ui.define([], function () {
  "use strict";

  return {
    showCampaigns: function () {
      this.routing.navigateToRoute("CampaignsList");
    },
    showInvitations: function () {
      this.routing.navigateToRoute("InvitationsList");
    }
  };
});
