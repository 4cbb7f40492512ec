// The public battery page: offer "use my location" where the browser can tell it. The page is
// complete without this script; with it, a tap reloads the page with ?lat=&lon= so the server
// lists the collection points nearest to the caller. Rounded to 3 decimals (about 100 m): enough
// to rank outlets, and no more precise than needed in a URL that may be shared.
"use strict";

(() => {
  const button = document.getElementById("near");
  const status = document.getElementById("near-status");
  if (!button || !("geolocation" in navigator)) return;
  button.hidden = false;
  button.addEventListener("click", () => {
    button.disabled = true;
    navigator.geolocation.getCurrentPosition(
      (position) => {
        const query = new URLSearchParams(window.location.search);
        query.set("lat", position.coords.latitude.toFixed(3));
        query.set("lon", position.coords.longitude.toFixed(3));
        window.location.search = query.toString();
      },
      () => {
        button.disabled = false;
        if (status) {
          status.textContent = button.dataset.denied || "";
          status.hidden = false;
        }
      },
      { enableHighAccuracy: false, timeout: 15000, maximumAge: 600000 },
    );
  });
})();
