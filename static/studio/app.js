// Content Studio page behaviour. No inline scripts anywhere: the CSP forbids them.
"use strict";
