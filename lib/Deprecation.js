'use strict';
// Deprecation warnings, printed once per name unless disabled (same object as the original's).
const Deprecation = {
  disableWarnings: false,

  deprecationWarningMap: {},

  warn: function warn(deprecationName) {
    if (!this.disableWarnings && this.deprecationWarningMap[deprecationName]) {
      console.warn('DEPRECATION WARNING: ' + this.deprecationWarningMap[deprecationName]);
      this.deprecationWarningMap[deprecationName] = false;
    }
  },
};

module.exports = Deprecation;
