/** The hostile-code catalogue against the python3 backend (native CPython in the jail). */
import { hostileCatalogueTests } from './hostileCatalogue.ts';

hostileCatalogueTests('python3');
