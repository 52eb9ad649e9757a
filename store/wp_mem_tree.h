/*  wp_mem_tree: an ordered set of intrusive nodes keyed by a unique
    uint64_t, for the memory store's items of one (pool, status) in push
    order, or ordered by a function of the caller's (the pending items in
    claim order, by priority then push order). A treap whose priorities are a hash of the key: no priority is
    stored, and the expected depth is O(log n) whatever order the keys come
    in (pushes arrive in rising order, retries put old keys back). A node is
    two pointers inside its element; the tree borrows its nodes.

    Why a treap: the memory store needs "first", "insert", "remove" and
    "walk from key k", each O(log n), and a walk of m nodes in O(m). A
    skip list would cost a tower per node (more memory per item) and a
    balanced tree with colours or heights more code; the treap gets the
    bound with two pointers and a few dozen lines. Internal to store/.  */
#ifndef WP_MEM_TREE_H_INCLUDED
#define WP_MEM_TREE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _wp_mem_tnode_t wp_mem_tnode_t;
struct _wp_mem_tnode_t {
    wp_mem_tnode_t *left;       //  subtree of smaller keys
    wp_mem_tnode_t *right;      //  subtree of larger keys
};

typedef uint64_t (wp_mem_key_fn) (const wp_mem_tnode_t *node);
//  True if node a sorts before node b
typedef bool (wp_mem_order_fn) (const wp_mem_tnode_t *a, const wp_mem_tnode_t *b);

//  A value type: wp_mem_tree_init it, then insert and remove
typedef struct {
    wp_mem_tnode_t *root;
    size_t count;               //  nodes held
    wp_mem_key_fn *key;         //  a node's key
    wp_mem_order_fn *before;    //  the order, or NULL: by key
} wp_mem_tree_t;

//  Empties tree and sets how it reads a node's key.
void wp_mem_tree_init (wp_mem_tree_t *tree, wp_mem_key_fn *key);

//  The same, ordered by before instead of by key (a total order agreeing
//  with no other; the key stays unique per node and sets its treap
//  priority). A walk of such a tree must start from_start.
void wp_mem_tree_init_ordered (wp_mem_tree_t *tree, wp_mem_key_fn *key, wp_mem_order_fn *before);

//  Adds node, whose key must not be in tree. O(log n) expected.
void wp_mem_tree_insert (wp_mem_tree_t *tree, wp_mem_tnode_t *node);

//  Removes node, which must be in tree (asserted). O(log n) expected.
void wp_mem_tree_remove (wp_mem_tree_t *tree, wp_mem_tnode_t *node);

//  The node with the smallest key, or NULL.
wp_mem_tnode_t *wp_mem_tree_first (const wp_mem_tree_t *tree);

//  An in-order walk from a starting key: the path still to visit, on a
//  stack the walk owns (wp_mem_tree_walk_end frees it)
typedef struct {
    wp_mem_tnode_t **stack;
    size_t depth;
    size_t capacity;
} wp_mem_tree_walk_t;

//  Starts walk at the first node whose key is greater than after (or the
//  first node of all if from_start). O(log n).
void wp_mem_tree_walk_start (wp_mem_tree_walk_t *walk, const wp_mem_tree_t *tree,
                             bool from_start, uint64_t after);

//  The node the walk is at, without moving; NULL at the end.
wp_mem_tnode_t *wp_mem_tree_walk_peek (const wp_mem_tree_walk_t *walk);

//  Moves past the current node. Amortized O(1). The tree must not change
//  during a walk.
void wp_mem_tree_walk_next (wp_mem_tree_walk_t *walk);

//  Frees the walk's stack.
void wp_mem_tree_walk_end (wp_mem_tree_walk_t *walk);

#endif
