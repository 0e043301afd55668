/** Loads every op definition into the table (each module registers its ops when first imported). */
import './elementwise.ts';
import './reduce.ts';
import './shape.ts';
import './matmul.ts';
import './softmax.ts';
import './gather.ts';
import './select.ts';
import './scan.ts';
import './loop.ts';
