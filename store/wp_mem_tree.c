/*  wp_mem_tree: the memory store's ordered index, a treap (see
    wp_mem_tree.h). Recursion depth is the tree's depth, O(log n).  */
#include "wp_mem_tree.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>

//  splitmix64's finalizer: a node's priority from its key
static uint64_t
s_priority (uint64_t key)
{
    key += UINT64_C (0x9e3779b97f4a7c15);
    key = (key ^ (key >> 30)) * UINT64_C (0xbf58476d1ce4e5b9);
    key = (key ^ (key >> 27)) * UINT64_C (0x94d049bb133111eb);
    return key ^ (key >> 31);
}

void
wp_mem_tree_init (wp_mem_tree_t *tree, wp_mem_key_fn *key)
{
    wp_mem_tree_init_ordered (tree, key, NULL);
}

void
wp_mem_tree_init_ordered (wp_mem_tree_t *tree, wp_mem_key_fn *key, wp_mem_order_fn *before)
{
    tree->root = NULL;
    tree->count = 0;
    tree->key = key;
    tree->before = before;
}

//  True if a sorts before b: by the order function if there is one, else by key
static inline bool
s_before (const wp_mem_tree_t *tree, const wp_mem_tnode_t *a, uint64_t a_key,
          const wp_mem_tnode_t *b, uint64_t b_key)
{
    return tree->before ? tree->before (a, b) : a_key < b_key;
}

static wp_mem_tnode_t *
s_insert (const wp_mem_tree_t *tree, wp_mem_tnode_t *root, wp_mem_tnode_t *node,
          uint64_t node_key, uint64_t node_priority)
{
    if (!root)
        return node;
    uint64_t root_key = tree->key (root);
    assert (node_key != root_key);
    if (s_before (tree, node, node_key, root, root_key)) {
        root->left = s_insert (tree, root->left, node, node_key, node_priority);
        if (root->left == node && node_priority > s_priority (root_key)) {
            root->left = node->right;
            node->right = root;
            return node;
        }
    }
    else {
        root->right = s_insert (tree, root->right, node, node_key, node_priority);
        if (root->right == node && node_priority > s_priority (root_key)) {
            root->right = node->left;
            node->left = root;
            return node;
        }
    }
    return root;
}

void
wp_mem_tree_insert (wp_mem_tree_t *tree, wp_mem_tnode_t *node)
{
    uint64_t node_key = tree->key (node);
    node->left = node->right = NULL;
    tree->root = s_insert (tree, tree->root, node, node_key, s_priority (node_key));
    tree->count++;
}

//  Joins two treaps, every key of a below every key of b
static wp_mem_tnode_t *
s_merge (wp_mem_key_fn *key, wp_mem_tnode_t *a, wp_mem_tnode_t *b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    if (s_priority (key (a)) > s_priority (key (b))) {
        a->right = s_merge (key, a->right, b);
        return a;
    }
    b->left = s_merge (key, a, b->left);
    return b;
}

void
wp_mem_tree_remove (wp_mem_tree_t *tree, wp_mem_tnode_t *node)
{
    uint64_t node_key = tree->key (node);
    wp_mem_tnode_t **link = &tree->root;
    while (*link != node) {
        assert (*link);
        link = s_before (tree, node, node_key, *link, tree->key (*link))
             ? &(*link)->left : &(*link)->right;
    }
    *link = s_merge (tree->key, node->left, node->right);
    node->left = node->right = NULL;
    tree->count--;
}

wp_mem_tnode_t *
wp_mem_tree_first (const wp_mem_tree_t *tree)
{
    wp_mem_tnode_t *node = tree->root;
    while (node && node->left)
        node = node->left;
    return node;
}

static void
s_walk_push (wp_mem_tree_walk_t *walk, wp_mem_tnode_t *node)
{
    if (walk->depth == walk->capacity) {
        walk->capacity = walk->capacity ? walk->capacity * 2 : 64;
        walk->stack = realloc (walk->stack, walk->capacity * sizeof (wp_mem_tnode_t *));
        if (!walk->stack)
            abort ();
    }
    walk->stack [walk->depth++] = node;
}

//  The stack holds the nodes still to visit whose left side is done,
//  nearest (smallest) on top
void
wp_mem_tree_walk_start (wp_mem_tree_walk_t *walk, const wp_mem_tree_t *tree,
                        bool from_start, uint64_t after)
{
    memset (walk, 0, sizeof *walk);
    for (wp_mem_tnode_t *node = tree->root; node; ) {
        if (from_start || tree->key (node) > after) {
            s_walk_push (walk, node);
            node = node->left;
        }
        else
            node = node->right;
    }
}

wp_mem_tnode_t *
wp_mem_tree_walk_peek (const wp_mem_tree_walk_t *walk)
{
    return walk->depth ? walk->stack [walk->depth - 1] : NULL;
}

void
wp_mem_tree_walk_next (wp_mem_tree_walk_t *walk)
{
    if (walk->depth == 0)
        return;
    wp_mem_tnode_t *node = walk->stack [--walk->depth]->right;
    for (; node; node = node->left)
        s_walk_push (walk, node);
}

void
wp_mem_tree_walk_end (wp_mem_tree_walk_t *walk)
{
    free (walk->stack);
    memset (walk, 0, sizeof *walk);
}
