"use strict";
// outlet page
BT.ready.then(() => {});
