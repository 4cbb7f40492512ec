"use strict";
// regulator page
BT.ready.then(() => {});
