/*  test_mem_tree: the ordered index (a treap keyed by seq) against a model
    under random inserts and removals; walks from every kind of start (the
    beginning, before the first key, between keys, on a key, past the last);
    and the depth at 10^6 keys inserted in rising order, as pushes come,
    which a plain binary tree would make a list: List's O(log n + limit)
    rests on it. A tree ordered by its own function (the claim order:
    priority, then seq) against a model too: first is the least by that
    order, removals find their nodes, the in-order walk follows it.  */
#include "wp_test.h"
#include "wp_mem_tree.h"
#include <stddef.h>

typedef struct {
    uint64_t seq;
    wp_mem_tnode_t node;
    bool in;
    int32_t priority;           //  for the ordered tree
} s_elem_t;

static s_elem_t *
s_elem (const wp_mem_tnode_t *node)
{
    return node ? (s_elem_t *) ((char *) node - offsetof (s_elem_t, node)) : NULL;
}

static uint64_t
s_key (const wp_mem_tnode_t *node)
{
    return s_elem (node)->seq;
}

static bool
s_claim_before (const wp_mem_tnode_t *a, const wp_mem_tnode_t *b)
{
    const s_elem_t *x = s_elem (a), *y = s_elem (b);
    if (x->priority != y->priority)
        return x->priority < y->priority;
    return x->seq < y->seq;
}

static bool
s_model_before (const s_elem_t *x, const s_elem_t *y)
{
    return x->priority != y->priority ? x->priority < y->priority : x->seq < y->seq;
}

static size_t
s_depth (const wp_mem_tnode_t *node)
{
    if (!node)
        return 0;
    size_t left = s_depth (node->left), right = s_depth (node->right);
    return 1 + (left > right ? left : right);
}

//  Walks from after (or the start) and checks against the model: the
//  elements in seq order, in, with key > after
static void
s_check_walk (const wp_mem_tree_t *tree, s_elem_t *elems, size_t count,
              bool from_start, uint64_t after)
{
    wp_mem_tree_walk_t walk;
    wp_mem_tree_walk_start (&walk, tree, from_start, after);
    for (size_t i = 0; i < count; i++) {
        if (!elems [i].in || (!from_start && elems [i].seq <= after))
            continue;
        CHECK (s_elem (wp_mem_tree_walk_peek (&walk)) == &elems [i]);
        wp_mem_tree_walk_next (&walk);
    }
    CHECK (wp_mem_tree_walk_peek (&walk) == NULL);
    wp_mem_tree_walk_next (&walk);          //  at the end, stays there
    CHECK (wp_mem_tree_walk_peek (&walk) == NULL);
    wp_mem_tree_walk_end (&walk);
}

#define S_ELEMS 2000

int
main (void)
{
    //  Model: element i has seq 10 * (i + 1), so there are gaps to start in
    static s_elem_t elems [S_ELEMS];
    for (size_t i = 0; i < S_ELEMS; i++)
        elems [i].seq = 10 * (i + 1);
    wp_mem_tree_t tree;
    wp_mem_tree_init (&tree, s_key);
    CHECK (wp_mem_tree_first (&tree) == NULL);
    s_check_walk (&tree, elems, S_ELEMS, true, 0);
    uint64_t rng = 11;
    size_t count = 0;
    for (int round = 0; round < 60000; round++) {
        rng = rng * UINT64_C (6364136223846793005) + 1442695040888963407;
        s_elem_t *elem = &elems [(rng >> 33) % S_ELEMS];
        if (elem->in) {
            wp_mem_tree_remove (&tree, &elem->node);
            count--;
        }
        else {
            wp_mem_tree_insert (&tree, &elem->node);
            count++;
        }
        elem->in = !elem->in;
        CHECK (tree.count == count);
        if (round % 499 == 0) {
            s_elem_t *first = NULL;
            for (size_t i = 0; i < S_ELEMS && !first; i++)
                if (elems [i].in)
                    first = &elems [i];
            CHECK (s_elem (wp_mem_tree_first (&tree)) == first);
            uint64_t at = (rng >> 7) % (10 * S_ELEMS + 20);
            s_check_walk (&tree, elems, S_ELEMS, true, 0);
            s_check_walk (&tree, elems, S_ELEMS, false, 0);
            s_check_walk (&tree, elems, S_ELEMS, false, at);
            s_check_walk (&tree, elems, S_ELEMS, false, at - at % 10);    //  on a key
            s_check_walk (&tree, elems, S_ELEMS, false, UINT64_MAX);
        }
    }

    //  Ordered by (priority, seq): a few priorities, many equals, extremes
    static s_elem_t ranked [S_ELEMS];
    for (size_t i = 0; i < S_ELEMS; i++) {
        ranked [i].seq = i + 1;
        rng = rng * UINT64_C (6364136223846793005) + 1442695040888963407;
        int pick = (int) ((rng >> 33) % 9);
        ranked [i].priority = pick == 0 ? INT32_MIN : pick == 8 ? INT32_MAX : pick - 4;
    }
    wp_mem_tree_t ordered;
    wp_mem_tree_init_ordered (&ordered, s_key, s_claim_before);
    count = 0;
    for (int round = 0; round < 40000; round++) {
        rng = rng * UINT64_C (6364136223846793005) + 1442695040888963407;
        s_elem_t *elem = &ranked [(rng >> 33) % S_ELEMS];
        if (elem->in) {
            wp_mem_tree_remove (&ordered, &elem->node);
            count--;
        }
        else {
            wp_mem_tree_insert (&ordered, &elem->node);
            count++;
        }
        elem->in = !elem->in;
        CHECK (ordered.count == count);
        if (round % 397 == 0) {
            s_elem_t *least = NULL;
            for (size_t i = 0; i < S_ELEMS; i++)
                if (ranked [i].in && (!least || s_model_before (&ranked [i], least)))
                    least = &ranked [i];
            CHECK (s_elem (wp_mem_tree_first (&ordered)) == least);
            //  The walk visits every node once, each after the one before
            wp_mem_tree_walk_t walk;
            wp_mem_tree_walk_start (&walk, &ordered, true, 0);
            size_t seen = 0;
            const s_elem_t *last = NULL;
            for (wp_mem_tnode_t *node; (node = wp_mem_tree_walk_peek (&walk));
                 wp_mem_tree_walk_next (&walk)) {
                CHECK (s_elem (node)->in);
                CHECK (!last || s_model_before (last, s_elem (node)));
                last = s_elem (node);
                seen++;
            }
            wp_mem_tree_walk_end (&walk);
            CHECK (seen == count);
        }
    }

    //  10^6 rising keys: the depth stays logarithmic (2^20 > 10^6; a treap's
    //  expected depth is about 2.99 log2 n, so 4 log2 n is a safe bound)
    size_t big = 1000000;
    s_elem_t *many = calloc (big, sizeof (s_elem_t));
    CHECK (many);
    wp_mem_tree_t rising;
    wp_mem_tree_init (&rising, s_key);
    for (size_t i = 0; i < big; i++) {
        many [i].seq = i + 1;
        wp_mem_tree_insert (&rising, &many [i].node);
    }
    size_t depth = s_depth (rising.root);
    printf ("depth at %zu rising keys: %zu\n", big, depth);
    CHECK (depth <= 80);
    //  Removing from the front, as claims do, keeps it so
    for (size_t i = 0; i < big / 2; i++) {
        CHECK (s_elem (wp_mem_tree_first (&rising)) == &many [i]);
        wp_mem_tree_remove (&rising, &many [i].node);
    }
    CHECK (s_depth (rising.root) <= 80);
    free (many);
    printf ("test_mem_tree: ok\n");
    return 0;
}
