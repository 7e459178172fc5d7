'use strict';
// Placeholder for the classes later milestones build: requiring them works (so the module's
// shape is complete), constructing them says clearly that they are not there yet.
module.exports = function notYetImplemented(name) {
  const Class = function () {
    throw new Error('websocket-rs: ' + name + ' is not implemented yet');
  };
  Object.defineProperty(Class, 'name', { value: name });
  return Class;
};
