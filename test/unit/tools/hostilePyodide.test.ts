/** The hostile-code catalogue against the Pyodide backend (CPython in WebAssembly on Node, in the jail). */
import { hostileCatalogueTests } from './hostileCatalogue.ts';

hostileCatalogueTests('pyodide');
